package io.errmap.client;

import io.errmap.v1.Resolution;

/**
 * The outcome of one query of a batch: a resolution, or the status the single call would have
 * failed with. Exactly one is not null.
 *
 * @param resolution the answer, when the query resolved
 * @param error why the query failed
 */
public record Result(Resolution resolution, com.google.rpc.Status error) {
  /** Whether the query resolved. */
  public boolean ok() {
    return resolution != null;
  }
}

package errmap

import (
	"context"
	"fmt"

	"github.com/errmap/errmap/clients/go/errmapv1"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Query is one query of a batch: exactly one of its fields is set. Use
// GatewayQuery or GRPCQuery to make one.
type Query struct {
	Gateway *errmapv1.ResolveGatewayErrorRequest
	GRPC    *errmapv1.ResolveGrpcStatusRequest
}

// GatewayQuery asks for a gateway error's translation in a batch.
func GatewayQuery(req *errmapv1.ResolveGatewayErrorRequest) Query { return Query{Gateway: req} }

// GRPCQuery asks for a gRPC status's translation in a batch.
func GRPCQuery(req *errmapv1.ResolveGrpcStatusRequest) Query { return Query{GRPC: req} }

// Result is the outcome of one query of a batch: a Resolution, or Err with
// the status the single call would have failed with.
type Result struct {
	Resolution *errmapv1.Resolution
	Err        *status.Status
}

// ResolveBatch resolves many queries in one call and returns one Result per
// query, in order; one bad query fails only its own Result. The error is
// the call's own (errmap unreachable, or the batch refused as a whole).
func (c *Client) ResolveBatch(ctx context.Context, queries ...Query) ([]Result, error) {
	req := &errmapv1.BatchResolveRequest{Queries: make([]*errmapv1.BatchQuery, 0, len(queries))}
	for i, q := range queries {
		switch {
		case q.Gateway != nil && q.GRPC == nil:
			req.Queries = append(req.Queries, &errmapv1.BatchQuery{
				Query: &errmapv1.BatchQuery_GatewayError{GatewayError: q.Gateway},
			})
		case q.GRPC != nil && q.Gateway == nil:
			req.Queries = append(req.Queries, &errmapv1.BatchQuery{
				Query: &errmapv1.BatchQuery_GrpcStatus{GrpcStatus: q.GRPC},
			})
		default:
			return nil, status.Errorf(codes.InvalidArgument, "errmap: queries[%d] must set exactly one of Gateway and GRPC", i)
		}
	}
	ctx, cancel := c.helperContext(ctx)
	defer cancel()
	res, err := c.api.BatchResolve(ctx, req)
	if err != nil {
		return nil, err
	}
	if len(res.GetResults()) != len(queries) {
		return nil, fmt.Errorf("errmap: %d results for %d queries", len(res.GetResults()), len(queries))
	}
	out := make([]Result, len(queries))
	for i, r := range res.GetResults() {
		switch v := r.GetResult().(type) {
		case *errmapv1.BatchResult_Resolution:
			out[i].Resolution = v.Resolution
		case *errmapv1.BatchResult_Error:
			out[i].Err = status.FromProto(v.Error)
		default:
			out[i].Err = status.New(codes.Unknown, "errmap: a batch result with neither a resolution nor an error")
		}
	}
	return out, nil
}

// Filter narrows AllErrors; the zero value lists every entry.
type Filter struct {
	// Table, if set, keeps only that table's entries.
	Table errmapv1.Table
	// HTTPStatus, if not zero, keeps only entries with that HTTP status.
	HTTPStatus int
	// GRPCCode, if not nil, keeps only entries that translate to that code.
	GRPCCode *codes.Code
}

// Code returns a pointer to c, for Filter.GRPCCode.
func Code(c codes.Code) *codes.Code { return &c }

// AllErrors returns every catalog entry that passes the filter, in catalog
// order, reading ListErrors page by page. Each page is a call with its own
// deadline (the context's, else the client's timeout).
func (c *Client) AllErrors(ctx context.Context, filter Filter) ([]*errmapv1.CatalogEntry, error) {
	req := &errmapv1.ListErrorsRequest{PageSize: c.pageSize, Table: filter.Table}
	if filter.HTTPStatus != 0 {
		hs := int32(filter.HTTPStatus)
		req.HttpStatus = &hs
	}
	if filter.GRPCCode != nil {
		gc := rpccode.Code(*filter.GRPCCode)
		req.GrpcCode = &gc
	}
	var entries []*errmapv1.CatalogEntry
	for {
		page, err := c.listPage(ctx, req)
		if err != nil {
			return nil, err
		}
		entries = append(entries, page.GetEntries()...)
		next := page.GetNextPageToken()
		if next == "" {
			return entries, nil
		}
		if next == req.PageToken {
			return nil, fmt.Errorf("errmap: ListErrors returned the same page token twice (%q)", next)
		}
		req.PageToken = next
	}
}

func (c *Client) listPage(ctx context.Context, req *errmapv1.ListErrorsRequest) (*errmapv1.ListErrorsResponse, error) {
	ctx, cancel := c.helperContext(ctx)
	defer cancel()
	return c.api.ListErrors(ctx, req)
}

// GetError returns one catalog entry by code or alias; httpStatus, when not
// zero, picks between rows that share the code.
func (c *Client) GetError(ctx context.Context, code string, httpStatus int) (*errmapv1.GetErrorResponse, error) {
	req := &errmapv1.GetErrorRequest{Code: code}
	if httpStatus != 0 {
		hs := int32(httpStatus)
		req.HttpStatus = &hs
	}
	ctx, cancel := c.helperContext(ctx)
	defer cancel()
	return c.api.GetError(ctx, req)
}

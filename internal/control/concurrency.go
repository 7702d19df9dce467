package control

import (
	"context"
	"errors"

	"github.com/emberfn/ember/internal/function"
	"github.com/emberfn/ember/internal/invocation"
	"github.com/emberfn/ember/internal/store"
)

// minUnreserved is the concurrency Lambda keeps for functions without a
// reservation.
const minUnreserved = 100

// totalCodeSize is Lambda's default code storage quota: 75 GB.
const totalCodeSize = 80530636800

// PutConcurrency reserves n of the account's concurrency for a function,
// leaving the functions without a reservation at least Lambda's minimum.
func (p *Plane) PutConcurrency(ctx context.Context, name string, n int) error {
	if n < 0 {
		return invocation.Errorf(invocation.ErrValidation,
			"1 validation error detected: Value '%d' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0", n)
	}
	account := p.opts.AccountConcurrency
	floor := min(minUnreserved, account/10)
	for {
		fns, err := p.opts.Store.ListFunctions(ctx)
		if err != nil {
			return err
		}
		var fn *store.Function
		reserved := 0
		for i := range fns {
			if fns[i].Latest.FunctionName == name {
				fn = &fns[i]
			} else if fns[i].ReservedConcurrency != nil {
				reserved += *fns[i].ReservedConcurrency
			}
		}
		if fn == nil {
			return invocation.Errorf(invocation.ErrNotFound, "%s", p.functionNotFound(name))
		}
		if account-reserved-n < floor {
			return invocation.Errorf(invocation.ErrInvalid,
				"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", floor)
		}
		fn.ReservedConcurrency = &n
		if _, err := p.opts.Store.UpdateFunction(ctx, *fn); errors.Is(err, store.ErrChanged) {
			continue
		} else if err != nil {
			return storeError(err, p.functionNotFound(name), "")
		}
		return nil
	}
}

// DeleteConcurrency removes a function's reservation.
func (p *Plane) DeleteConcurrency(ctx context.Context, name string) error {
	for {
		fn, err := p.opts.Store.GetFunction(ctx, name)
		if err != nil {
			return storeError(err, p.functionNotFound(name), "")
		}
		fn.ReservedConcurrency = nil
		if _, err := p.opts.Store.UpdateFunction(ctx, fn); errors.Is(err, store.ErrChanged) {
			continue
		} else if err != nil {
			return storeError(err, p.functionNotFound(name), "")
		}
		return nil
	}
}

// Concurrency reads a function's reservation; nil for none.
func (p *Plane) Concurrency(ctx context.Context, name string) (*int, error) {
	fn, err := p.opts.Store.GetFunction(ctx, name)
	if err != nil {
		return nil, storeError(err, p.functionNotFound(name), "")
	}
	return fn.ReservedConcurrency, nil
}

// AccountSettings are the account's limits and what it uses of them.
type AccountSettings struct {
	TotalCodeSize                  int64
	CodeSizeUnzipped               int64
	CodeSizeZipped                 int64
	ConcurrentExecutions           int
	UnreservedConcurrentExecutions int
	// CodeStored is the size of the code in the store; FunctionCount the
	// number of functions.
	CodeStored    int64
	FunctionCount int64
}

// AccountSettings reads the account's limits and usage.
func (p *Plane) AccountSettings(ctx context.Context) (AccountSettings, error) {
	fns, err := p.opts.Store.ListFunctions(ctx)
	if err != nil {
		return AccountSettings{}, err
	}
	_, bytes, err := p.opts.Store.CodeUsage(ctx)
	if err != nil {
		return AccountSettings{}, err
	}
	s := AccountSettings{
		TotalCodeSize:                  totalCodeSize,
		CodeSizeUnzipped:               function.MaxUnzipped,
		CodeSizeZipped:                 MaxZipped,
		ConcurrentExecutions:           p.opts.AccountConcurrency,
		UnreservedConcurrentExecutions: p.opts.AccountConcurrency,
		CodeStored:                     bytes,
		FunctionCount:                  int64(len(fns)),
	}
	for _, fn := range fns {
		if fn.ReservedConcurrency != nil {
			s.UnreservedConcurrentExecutions -= *fn.ReservedConcurrency
		}
	}
	return s, nil
}

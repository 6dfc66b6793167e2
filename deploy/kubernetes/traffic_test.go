package kubernetes_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/patas/patas-secrets/internal/testenv/kube"
)

// traffic sends requests to the patas Service's ready endpoints continuously, as a load
// balancer in front of the Service would: the endpoints come from the EndpointSlices (what
// kube-proxy and ingress controllers read; the readinessProbe decides them), refreshed every
// half second. A GET that an endpoint refused, or reset or closed before any response, is
// tried once on the next one (nginx's default `proxy_next_upstream error timeout` does so for
// idempotent requests) and counted in Retried; Failed counts requests that got no 200 at all.
// (uvicorn, as it shuts down for a restart, closes connections it accepted and had not yet
// read: the one loss exec --listen cannot prevent, docs/deploy.md.)
type traffic struct {
	Sent, Failed, Retried atomic.Int64

	mu        sync.Mutex
	endpoints []string
	lastErr   error
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

func startTraffic(t *testing.T, c *kube.Cluster) *traffic {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &traffic{cancel: cancel}
	tr.refresh(ctx, c)
	if len(tr.ready()) == 0 {
		cancel()
		t.Fatalf("no ready endpoints for Service patas\n%s", describe(c))
	}
	tr.wg.Add(2)
	go func() {
		defer tr.wg.Done()
		for ctx.Err() == nil {
			tr.refresh(ctx, c)
			sleepCtx(ctx, 500*time.Millisecond)
		}
	}()
	go func() {
		defer tr.wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			tr.one(ctx, i)
			sleepCtx(ctx, 50*time.Millisecond)
		}
	}()
	t.Cleanup(tr.stop)
	return tr
}

func (tr *traffic) stop() {
	tr.cancel()
	tr.wg.Wait()
}

func (tr *traffic) ready() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.endpoints
}

func (tr *traffic) refresh(ctx context.Context, c *kube.Cluster) {
	out, err := c.Kubectl(ctx, "-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=patas", "-o", "json")
	if err != nil {
		return
	}
	var list discoveryv1.EndpointSliceList
	if json.Unmarshal([]byte(out), &list) != nil {
		return
	}
	var ready []string
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && *e.Conditions.Ready {
				ready = append(ready, e.Addresses...)
			}
		}
	}
	tr.mu.Lock()
	tr.endpoints = ready
	tr.mu.Unlock()
}

func (tr *traffic) one(ctx context.Context, i int) {
	eps := tr.ready()
	tr.Sent.Add(1)
	if len(eps) == 0 {
		tr.fail(errors.New("no ready endpoint"))
		return
	}
	first := eps[i%len(eps)]
	_, err := ask(ctx, first, clientKey)
	if err != nil && retryable(err) && len(eps) > 1 {
		tr.Retried.Add(1)
		_, err = ask(ctx, eps[(i+1)%len(eps)], clientKey)
	}
	if err != nil && ctx.Err() == nil {
		tr.fail(err)
	}
}

func (tr *traffic) fail(err error) {
	tr.Failed.Add(1)
	tr.mu.Lock()
	tr.lastErr = err
	tr.mu.Unlock()
}

func (tr *traffic) LastErr() error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.lastErr
}

// retryable reports a connection the endpoint refused, or reset or closed before any
// response: what nginx's default proxy_next_upstream retries for a GET.
func retryable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

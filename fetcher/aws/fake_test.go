package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/patas/patas-secrets/fetcher"
)

// fakeAWS stands in for Secrets Manager and SSM behind the narrow interfaces, for what
// moto cannot be made to do: throttle, refuse, fail to decrypt.
type fakeAWS struct {
	mu      sync.Mutex
	secrets map[string]string // id -> SecretString
	params  map[string]string // name -> value
	// failures, consumed one per call of that operation before it answers normally.
	failures map[string][]error
	// entryErrors makes BatchGetSecretValue report these ids as failed entries.
	entryErrors map[string]string
	// entryThrottles makes BatchGetSecretValue report these ids as throttled entries this
	// many times before answering.
	entryThrottles map[string]int
	// pageSize splits BatchGetSecretValue answers into pages with NextToken (0: one page).
	pageSize int
	calls    map[string]int
}

func newFake() *fakeAWS {
	return &fakeAWS{secrets: map[string]string{}, params: map[string]string{}, failures: map[string][]error{},
		entryErrors: map[string]string{}, entryThrottles: map[string]int{}, calls: map[string]int{}}
}

func (f *fakeAWS) enter(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if q := f.failures[op]; len(q) > 0 {
		f.failures[op] = q[1:]
		return q[0]
	}
	return nil
}

func (f *fakeAWS) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func apiErr(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: code + " (fake)"}
}

func (f *fakeAWS) BatchGetSecretValue(ctx context.Context, in *secretsmanager.BatchGetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error) {
	if err := f.enter("BatchGetSecretValue"); err != nil {
		return nil, err
	}
	if len(in.SecretIdList) > 20 {
		return nil, apiErr("InvalidParameterException")
	}
	ids := in.SecretIdList
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	}
	out := &secretsmanager.BatchGetSecretValueOutput{}
	end := len(ids)
	if f.pageSize > 0 && start+f.pageSize < end {
		end = start + f.pageSize
		out.NextToken = sdkaws.String(fmt.Sprint(end))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids[start:end] {
		code, failed := f.entryErrors[id]
		if f.entryThrottles[id] > 0 {
			f.entryThrottles[id]--
			code, failed = "ThrottlingException", true
		}
		v, ok := f.secrets[id]
		switch {
		case failed:
			out.Errors = append(out.Errors, smtypes.APIErrorType{SecretId: sdkaws.String(id), ErrorCode: &code, Message: sdkaws.String("fake")})
		case !ok:
			out.Errors = append(out.Errors, smtypes.APIErrorType{SecretId: sdkaws.String(id), ErrorCode: sdkaws.String("ResourceNotFoundException")})
		default:
			out.SecretValues = append(out.SecretValues, smtypes.SecretValueEntry{Name: sdkaws.String(id), SecretString: sdkaws.String(v), VersionId: sdkaws.String("v-" + id)})
		}
	}
	return out, nil
}

func (f *fakeAWS) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	if err := f.enter("GetSecretValue"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := *in.SecretId
	if code, failed := f.entryErrors[id]; failed {
		return nil, apiErr(code)
	}
	v, ok := f.secrets[id]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: sdkaws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{Name: in.SecretId, SecretString: &v, VersionId: sdkaws.String("v-" + id)}, nil
}

func (f *fakeAWS) GetParameter(ctx context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	if err := f.enter("GetParameter"); err != nil {
		return nil, err
	}
	return nil, &ssmtypes.ParameterNotFound{}
}

func (f *fakeAWS) GetParameters(ctx context.Context, in *ssm.GetParametersInput, _ ...func(*ssm.Options)) (*ssm.GetParametersOutput, error) {
	if err := f.enter("GetParameters"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &ssm.GetParametersOutput{}
	for _, n := range in.Names {
		if v, ok := f.params[n]; ok {
			out.Parameters = append(out.Parameters, ssmtypes.Parameter{Name: sdkaws.String(n), Value: sdkaws.String(v), Version: 1})
		} else {
			out.InvalidParameters = append(out.InvalidParameters, n)
		}
	}
	return out, nil
}

func (f *fakeAWS) GetParametersByPath(ctx context.Context, in *ssm.GetParametersByPathInput, _ ...func(*ssm.Options)) (*ssm.GetParametersByPathOutput, error) {
	if err := f.enter("GetParametersByPath"); err != nil {
		return nil, err
	}
	return &ssm.GetParametersByPathOutput{}, nil
}

// fastBackoff keeps retries in unit tests short.
var fastBackoff = backoff{attempts: 4, base: time.Millisecond, max: 2 * time.Millisecond}

func fakeClient(t *testing.T, f *fakeAWS) (*Client, *logBuffer) {
	log := newLogBuffer()
	c := newClient(f, f, log.Logger())
	c.backoff = fastBackoff
	return c, log
}

func refs(t *testing.T, ss ...string) []fetcher.Ref {
	out := make([]fetcher.Ref, len(ss))
	for i, s := range ss {
		out[i] = ref(t, s)
	}
	return out
}

func TestThrottlingIsRetried(t *testing.T) {
	f := newFake()
	f.secrets["a"], f.secrets["b"] = "canary-a", "canary-b"
	f.failures["BatchGetSecretValue"] = []error{apiErr("ThrottlingException"), apiErr("ThrottlingException")}
	c, _ := fakeClient(t, f)
	for _, r := range c.FetchAll(context.Background(), refs(t, "aws:a", "aws:b")) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if n := f.count("BatchGetSecretValue"); n != 3 {
		t.Errorf("calls: got %d, want 3 (two throttled, one answered)", n)
	}
}

func TestThrottlingGivesUp(t *testing.T) {
	f := newFake()
	f.secrets["a"] = "canary-a"
	for range 10 {
		f.failures["GetSecretValue"] = append(f.failures["GetSecretValue"], apiErr("ThrottlingException"))
	}
	c, log := fakeClient(t, f)
	_, err := c.Fetch(context.Background(), ref(t, "aws:a"))
	if !errors.Is(err, ErrThrottled) || !strings.Contains(err.Error(), `secret "a"`) {
		t.Errorf("got %v, want ErrThrottled naming secret a", err)
	}
	if errors.Is(err, fetcher.ErrNotFound) || errors.Is(err, fetcher.ErrPermission) {
		t.Errorf("got %v, want throttling distinct from not found and permission", err)
	}
	if n := f.count("GetSecretValue"); n != fastBackoff.attempts {
		t.Errorf("calls: got %d, want %d (bounded)", n, fastBackoff.attempts)
	}
	assertNoCanary(t, "canary", err.Error(), log.String())
}

func TestThrottleWaitIsCancellable(t *testing.T) {
	f := newFake()
	f.failures["GetSecretValue"] = []error{apiErr("ThrottlingException")}
	c, _ := fakeClient(t, f)
	c.backoff = backoff{attempts: 5, base: time.Hour, max: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Fetch(ctx, ref(t, "aws:a"))
		done <- err
	}()
	for f.count("GetSecretValue") == 0 {
		time.Sleep(time.Millisecond) // test-only polling until the first call is made
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the backoff wait did not end on cancellation")
	}
}

func TestBackoffDelaysAreJitteredAndBounded(t *testing.T) {
	b := backoff{attempts: 10, base: 100 * time.Millisecond, max: time.Second}
	seen := map[time.Duration]bool{}
	for retry := range 12 {
		limit := min(b.base<<retry, b.max)
		for range 50 {
			d := b.delay(retry)
			if d <= 0 || d > limit {
				t.Fatalf("retry %d: got %s, want in (0, %s]", retry, d, limit)
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Errorf("got %d distinct delays in 600, want jitter", len(seen))
	}
}

func TestPartialBatchFailure(t *testing.T) {
	f := newFake()
	f.secrets["ok"] = `{"k":"canary-ok"}`
	for _, id := range []string{"undecryptable", "forbidden", "throttled"} {
		f.secrets[id] = "canary-" + id
	}
	f.entryErrors["undecryptable"] = "DecryptionFailure"
	f.entryErrors["forbidden"] = "AccessDeniedException"
	f.entryErrors["throttled"] = "ThrottlingException"
	c, log := fakeClient(t, f)

	rs := c.FetchAll(context.Background(), refs(t, "aws:ok", "aws:undecryptable", "aws:forbidden", "aws:missing", "aws:throttled"))
	if rs[0].Err != nil {
		t.Errorf("ok: got %v", rs[0].Err)
	}
	for i, tc := range []struct {
		id   string
		want error
	}{{"undecryptable", ErrDecryption}, {"forbidden", fetcher.ErrPermission}, {"missing", fetcher.ErrNotFound}, {"throttled", ErrThrottled}} {
		err := rs[i+1].Err
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.id)) {
			t.Errorf("%s: got %v, want %v naming it", tc.id, err, tc.want)
		}
		for _, other := range []error{ErrDecryption, fetcher.ErrPermission, fetcher.ErrNotFound, ErrThrottled} {
			if other != tc.want && errors.Is(err, other) {
				t.Errorf("%s: got %v, also %v: want distinct errors", tc.id, err, other)
			}
		}
		if err != nil {
			assertNoCanary(t, "canary", err.Error())
		}
	}
	if n := f.count("BatchGetSecretValue"); n != 1 {
		t.Errorf("calls: got %d, want 1", n)
	}
	assertNoCanary(t, "canary", log.String())
}

func TestBatchPages(t *testing.T) {
	f := newFake()
	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("s%d", i)
		f.secrets[id] = "v"
		ids = append(ids, "aws:"+id)
	}
	f.pageSize = 2
	c, _ := fakeClient(t, f)
	for _, r := range c.FetchAll(context.Background(), refs(t, ids...)) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if n := f.count("BatchGetSecretValue"); n != 3 {
		t.Errorf("calls: got %d, want 3 pages", n)
	}
}

func TestBatchRefusedFallsBackToGetSecretValue(t *testing.T) {
	f := newFake()
	f.secrets["a"], f.secrets["b"] = "canary-a", "canary-b"
	f.failures["BatchGetSecretValue"] = []error{apiErr("AccessDeniedException")}
	c, log := fakeClient(t, f)
	for round := 1; round <= 2; round++ {
		for _, r := range c.FetchAll(context.Background(), refs(t, "aws:a", "aws:b")) {
			if r.Err != nil {
				t.Fatalf("round %d: %v", round, r.Err)
			}
		}
	}
	if b, g := f.count("BatchGetSecretValue"), f.count("GetSecretValue"); b != 1 || g != 4 {
		t.Errorf("calls: got %d batch and %d single, want 1 refused batch then 2 GetSecretValue per round", b, g)
	}
	if n := strings.Count(log.String(), "BatchGetSecretValue refused"); n != 1 {
		t.Errorf("warnings: got %d, want 1", n)
	}
}

func TestBatchCallFailsAsAWhole(t *testing.T) {
	f := newFake()
	f.failures["BatchGetSecretValue"] = []error{errors.New("connection reset by peer")}
	c, _ := fakeClient(t, f)
	rs := c.FetchAll(context.Background(), refs(t, "aws:a", "aws:b"))
	for i, id := range []string{"a", "b"} {
		err := rs[i].Err
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", id)) || !strings.Contains(err.Error(), "connection reset") {
			t.Errorf("%s: got %v, want the call's error naming the secret", id, err)
		}
	}
}

func TestGetSecretValueErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{&smtypes.ResourceNotFoundException{Message: sdkaws.String("gone")}, fetcher.ErrNotFound},
		{&smtypes.DecryptionFailure{Message: sdkaws.String("kms key disabled")}, ErrDecryption},
		{apiErr("AccessDeniedException"), fetcher.ErrPermission},
		{apiErr("UnrecognizedClientException"), fetcher.ErrPermission},
		{apiErr("ExpiredTokenException"), fetcher.ErrPermission},
	} {
		t.Run(fmt.Sprintf("%T %s", tc.err, errorCode(tc.err)), func(t *testing.T) {
			f := newFake()
			f.failures["GetSecretValue"] = []error{tc.err}
			c, _ := fakeClient(t, f)
			_, err := c.Fetch(context.Background(), ref(t, "aws:patas/x"))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), `"patas/x"`) {
				t.Errorf("got %v, want %v naming patas/x", err, tc.want)
			}
		})
	}
}

func TestSSMErrors(t *testing.T) {
	f := newFake()
	f.params["/p/a"] = "canary"
	f.failures["GetParameters"] = []error{apiErr("ThrottlingException"), &ssmtypes.InvalidKeyId{Message: sdkaws.String("key disabled")}}
	c, _ := fakeClient(t, f)
	rs := c.FetchAll(context.Background(), refs(t, "aws:ssm:/p/a", "aws:ssm:/p/b"))
	for _, r := range rs {
		if !errors.Is(r.Err, ErrDecryption) {
			t.Errorf("got %v, want ErrDecryption after one throttled retry", r.Err)
		}
	}
	rs = c.FetchAll(context.Background(), refs(t, "aws:ssm:/p/a", "aws:ssm:/p/b"))
	if rs[0].Err != nil || !errors.Is(rs[1].Err, fetcher.ErrNotFound) {
		t.Errorf("got %v, %v, want the value and ErrNotFound", rs[0].Err, rs[1].Err)
	}
	if n := f.count("GetParameters"); n != 3 {
		t.Errorf("calls: got %d, want 3", n)
	}
}

// TestSDKRetryerLeavesThrottlingToUs: the SDK still retries transient errors, but not
// throttling, which call retries with its own bounded backoff.
func TestSDKRetryerLeavesThrottlingToUs(t *testing.T) {
	r := sdkRetryer()
	if r.IsErrorRetryable(apiErr("ThrottlingException")) {
		t.Error("ThrottlingException: SDK retries it, want only our backoff to")
	}
	if !r.IsErrorRetryable(apiErr("RequestTimeout")) {
		t.Error("transient errors: SDK does not retry them, want its standard retries kept")
	}
}

func TestThrottledBatchEntriesAreRetried(t *testing.T) {
	f := newFake()
	f.secrets["a"], f.secrets["b"], f.secrets["c"] = "canary-a", "canary-b", "canary-c"
	f.entryThrottles["b"], f.entryThrottles["c"] = 1, 1
	c, _ := fakeClient(t, f)
	for _, r := range c.FetchAll(context.Background(), refs(t, "aws:a", "aws:b", "aws:c")) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if b, g := f.count("BatchGetSecretValue"), f.count("GetSecretValue"); b != 2 || g != 0 {
		t.Errorf("calls: got %d batch and %d single, want 2 batch calls (all three, then the two throttled)", b, g)
	}
}

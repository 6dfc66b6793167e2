package aws

import (
	"context"
	"fmt"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

// readSecretBatch reads up to 20 unversioned secrets and reports each through set. Secrets
// whose batch entry says ThrottlingException are asked again, after the same jittered
// backoff as a throttled call, until the attempts run out.
func (c *Client) readSecretBatch(ctx context.Context, ts []target, set func(target, fetcher.Result)) {
	for retry := 0; ; retry++ {
		throttled := c.readSecretBatchOnce(ctx, ts, set)
		if len(throttled) == 0 {
			return
		}
		if retry+1 >= c.backoff.attempts {
			for t, err := range throttled {
				set(t, fetcher.Result{Err: fmt.Errorf("%w after %d attempts: %w", ErrThrottled, c.backoff.attempts, err)})
			}
			return
		}
		if err := c.backoff.wait(ctx, retry); err != nil {
			for t := range throttled {
				set(t, fetcher.Result{Err: fmt.Errorf("%s: waiting to retry a throttled read: %w", t.describe(), err)})
			}
			return
		}
		ts = ts[:0:0]
		for t := range throttled {
			ts = append(ts, t)
		}
	}
}

// readSecretBatchOnce reads ts with one BatchGetSecretValue (and its pages) and reports each
// through set, except those whose entry was throttled: it returns them with their errors. A
// single secret is read with GetSecretValue: the same one call, and it needs no batch
// permission.
func (c *Client) readSecretBatchOnce(ctx context.Context, ts []target, set func(target, fetcher.Result)) map[target]error {
	if len(ts) == 1 || c.batchDenied.Load() {
		for _, t := range ts {
			set(t, c.readSecret(ctx, t))
		}
		return nil
	}
	pending := make(map[string]target, len(ts))
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.id
		pending[t.id] = t
	}
	var throttled map[target]error
	in := &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids}
	for len(pending) > 0 {
		out, err := call(ctx, c.backoff, "BatchGetSecretValue", func(ctx context.Context) (*secretsmanager.BatchGetSecretValueOutput, error) {
			return c.sm.BatchGetSecretValue(ctx, in)
		})
		if err != nil {
			c.batchFailed(ctx, pending, err, set)
			return nil
		}
		for _, e := range out.SecretValues {
			t, ok := matchSecret(pending, sdkaws.ToString(e.Name), sdkaws.ToString(e.ARN))
			if !ok {
				continue
			}
			delete(pending, t.id)
			s, err := secretOf(t, e.SecretString, e.SecretBinary, e.VersionId, e.CreatedDate)
			set(t, fetcher.Result{Secret: s, Err: err})
		}
		for _, e := range out.Errors {
			id := sdkaws.ToString(e.SecretId)
			t, ok := matchSecret(pending, id, id)
			if !ok {
				continue
			}
			delete(pending, t.id)
			code := sdkaws.ToString(e.ErrorCode)
			err := entryErr(t.describe(), code, sdkaws.ToString(e.Message))
			if isThrottleCode(code) {
				if throttled == nil {
					throttled = map[target]error{}
				}
				throttled[t] = err
				continue
			}
			set(t, fetcher.Result{Err: err})
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	for _, t := range pending {
		set(t, fetcher.Result{Err: fmt.Errorf("%s: missing from the BatchGetSecretValue answer", t.describe())})
	}
	return throttled
}

// batchFailed handles a BatchGetSecretValue call that failed as a whole. AccessDenied there
// means the policy lacks secretsmanager:BatchGetSecretValue (per-secret refusals come back
// as entries), so the secrets are read one by one from now on; any other error is every
// pending secret's error.
func (c *Client) batchFailed(ctx context.Context, pending map[string]target, err error, set func(target, fetcher.Result)) {
	if errorCode(err) == "AccessDeniedException" {
		if c.batchDenied.CompareAndSwap(false, true) {
			c.log.Warn("BatchGetSecretValue refused; reading secrets one per GetSecretValue call from now on "+
				"(grant secretsmanager:BatchGetSecretValue to read up to 20 per call)", zap.Error(err))
		}
		for _, t := range pending {
			set(t, c.readSecret(ctx, t))
		}
		return
	}
	for _, t := range pending {
		set(t, fetcher.Result{Err: wrapErr(t.describe(), err)})
	}
}

// matchSecret finds the pending target an answer entry belongs to: by name, by full ARN, or
// by a partial ARN (one without the six random characters AWS appends).
func matchSecret(pending map[string]target, name, arn string) (target, bool) {
	if t, ok := pending[name]; ok {
		return t, true
	}
	if t, ok := pending[arn]; ok {
		return t, true
	}
	for id, t := range pending {
		if strings.HasPrefix(id, "arn:") && strings.HasPrefix(arn, id+"-") && len(arn) == len(id)+7 {
			return t, true
		}
	}
	return target{}, false
}

// readSecret reads one secret with GetSecretValue. A secret pinned to a version id is
// served from memory after its first read: a version's content never changes.
func (c *Client) readSecret(ctx context.Context, t target) fetcher.Result {
	if t.versionID != "" {
		c.mu.Lock()
		s, ok := c.pinned[t]
		c.mu.Unlock()
		if ok {
			return fetcher.Result{Secret: s}
		}
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: sdkaws.String(t.id)}
	if t.versionID != "" {
		in.VersionId = sdkaws.String(t.versionID)
	}
	if t.stage != "" {
		in.VersionStage = sdkaws.String(t.stage)
	}
	out, err := call(ctx, c.backoff, "GetSecretValue", func(ctx context.Context) (*secretsmanager.GetSecretValueOutput, error) {
		return c.sm.GetSecretValue(ctx, in)
	})
	if err != nil {
		return fetcher.Result{Err: wrapErr(t.describe(), err)}
	}
	s, err := secretOf(t, out.SecretString, out.SecretBinary, out.VersionId, out.CreatedDate)
	if err == nil && t.versionID != "" {
		c.mu.Lock()
		c.pinned[t] = s
		c.mu.Unlock()
	}
	return fetcher.Result{Secret: s, Err: err}
}

// secretOf builds the Secret of one secret version: Value is the whole string or binary
// payload, Data its fields when it is a JSON object.
func secretOf(t target, str *string, bin []byte, version *string, created *time.Time) (fetcher.Secret, error) {
	var payload []byte
	switch {
	case str != nil:
		payload = []byte(*str)
	case bin != nil:
		payload = bin
	default:
		return fetcher.Secret{}, fmt.Errorf("%s: neither SecretString nor SecretBinary is set", t.describe())
	}
	data, err := fetcher.ParseJSONObject(payload)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: %w", t.describe(), err)
	}
	return fetcher.Secret{
		Value:   fetcher.NewValue(payload),
		Data:    data,
		Version: sdkaws.ToString(version),
		Created: sdkaws.ToTime(created),
	}, nil
}

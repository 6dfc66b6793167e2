package aws

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/patas/patas-secrets/fetcher"
)

// readParameters reads up to 10 SSM parameters with one GetParameters call, SecureStrings
// decrypted, and reports each through set. Only unversioned names come here: an answer
// entry's Selector (name:3) is not reliable enough to tell name and name:3 apart.
func (c *Client) readParameters(ctx context.Context, ts []target, set func(target, fetcher.Result)) {
	pending := make(map[string]target, len(ts))
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.ssmName()
		pending[names[i]] = t
	}
	in := &ssm.GetParametersInput{Names: names, WithDecryption: sdkaws.Bool(true)}
	out, err := call(ctx, c.backoff, "GetParameters", func(ctx context.Context) (*ssm.GetParametersOutput, error) {
		return c.ps.GetParameters(ctx, in)
	})
	if err != nil {
		for _, t := range ts {
			set(t, fetcher.Result{Err: wrapErr(t.describe(), err)})
		}
		return
	}
	for _, p := range out.Parameters {
		t, ok := pending[sdkaws.ToString(p.Name)]
		if !ok {
			t, ok = pending[sdkaws.ToString(p.ARN)]
		}
		if !ok {
			continue
		}
		delete(pending, t.ssmName())
		set(t, parameterResult(t, p))
	}
	for _, n := range out.InvalidParameters {
		if t, ok := pending[n]; ok {
			delete(pending, n)
			set(t, fetcher.Result{Err: fmt.Errorf("%s: %w", t.describe(), fetcher.ErrNotFound)})
		}
	}
	for _, t := range pending {
		set(t, fetcher.Result{Err: fmt.Errorf("%s: missing from the GetParameters answer", t.describe())})
	}
}

// readParameter reads one SSM parameter version or label (name:selector).
func (c *Client) readParameter(ctx context.Context, t target) fetcher.Result {
	in := &ssm.GetParameterInput{Name: sdkaws.String(t.ssmName()), WithDecryption: sdkaws.Bool(true)}
	out, err := call(ctx, c.backoff, "GetParameter", func(ctx context.Context) (*ssm.GetParameterOutput, error) {
		return c.ps.GetParameter(ctx, in)
	})
	if err != nil {
		return fetcher.Result{Err: wrapErr(t.describe(), err)}
	}
	if out.Parameter == nil {
		return fetcher.Result{Err: fmt.Errorf("%s: empty GetParameter answer", t.describe())}
	}
	return parameterResult(t, *out.Parameter)
}

// parameterResult is like a Secrets Manager string: the whole value, and its fields when it
// is a JSON object.
func parameterResult(t target, p types.Parameter) fetcher.Result {
	payload := []byte(sdkaws.ToString(p.Value))
	data, err := fetcher.ParseJSONObject(payload)
	if err != nil {
		return fetcher.Result{Err: fmt.Errorf("%s: %w", t.describe(), err)}
	}
	return fetcher.Result{Secret: fetcher.Secret{
		Value:   fetcher.NewValue(payload),
		Data:    data,
		Version: strconv.FormatInt(p.Version, 10),
		Created: sdkaws.ToTime(p.LastModifiedDate),
	}}
}

// readPath reads every parameter under t.id, recursively and decrypted, into Data keyed by
// each name relative to the path: under /patas/prod, /patas/prod/database_url is
// database_url and /patas/prod/llm/api_key is llm/api_key (which expand turns into
// LLM_API_KEY, and #llm/api_key selects).
func (c *Client) readPath(ctx context.Context, t target) fetcher.Result {
	in := &ssm.GetParametersByPathInput{
		Path:           sdkaws.String(t.id),
		Recursive:      sdkaws.Bool(true),
		WithDecryption: sdkaws.Bool(true),
		MaxResults:     sdkaws.Int32(10), // the most AWS allows per page
	}
	prefix := strings.TrimSuffix(t.id, "/") + "/"
	var s fetcher.Secret
	s.Data = map[string]fetcher.Value{}
	for {
		out, err := call(ctx, c.backoff, "GetParametersByPath", func(ctx context.Context) (*ssm.GetParametersByPathOutput, error) {
			return c.ps.GetParametersByPath(ctx, in)
		})
		if err != nil {
			return fetcher.Result{Err: wrapErr(t.describe(), err)}
		}
		for _, p := range out.Parameters {
			key := strings.TrimPrefix(sdkaws.ToString(p.Name), prefix)
			s.Data[key] = fetcher.StringValue(sdkaws.ToString(p.Value))
			if m := sdkaws.ToTime(p.LastModifiedDate); m.After(s.Created) {
				s.Created = m
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if len(s.Data) == 0 {
		return fetcher.Result{Err: fmt.Errorf("%s: no parameters under it: %w", t.describe(), fetcher.ErrNotFound)}
	}
	return fetcher.Result{Secret: s}
}

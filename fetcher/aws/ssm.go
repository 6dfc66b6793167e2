package aws

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/patas/patas-secrets/fetcher"
)

// readParameters reads up to 10 SSM parameters with one GetParameters call, SecureStrings
// decrypted, and reports each through set.
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
		sel := sdkaws.ToString(p.Selector)
		var t target
		var ok bool
		for _, n := range []string{sdkaws.ToString(p.Name) + sel, sdkaws.ToString(p.ARN) + sel} {
			if t, ok = pending[n]; ok {
				delete(pending, n)
				break
			}
		}
		if !ok {
			continue
		}
		s, err := parameterSecret(t, p.Value)
		s.Version = strconv.FormatInt(p.Version, 10)
		s.Created = sdkaws.ToTime(p.LastModifiedDate)
		set(t, fetcher.Result{Secret: s, Err: err})
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

// parameterSecret is like a Secrets Manager string: the whole value, and its fields when it
// is a JSON object.
func parameterSecret(t target, v *string) (fetcher.Secret, error) {
	payload := []byte(sdkaws.ToString(v))
	data, err := fetcher.ParseJSONObject(payload)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("%s: %w", t.describe(), err)
	}
	return fetcher.Secret{Value: fetcher.NewValue(payload), Data: data}, nil
}

// readPath reads every parameter under t.id, recursively and decrypted, into Data keyed by
// each name relative to the path with '/' replaced by '_': under /patas/prod,
// /patas/prod/database_url is database_url and /patas/prod/llm/api_key is llm_api_key.
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
	from := map[string]string{}
	for {
		out, err := call(ctx, c.backoff, "GetParametersByPath", func(ctx context.Context) (*ssm.GetParametersByPathOutput, error) {
			return c.ps.GetParametersByPath(ctx, in)
		})
		if err != nil {
			return fetcher.Result{Err: wrapErr(t.describe(), err)}
		}
		for _, p := range out.Parameters {
			name := sdkaws.ToString(p.Name)
			key := strings.ReplaceAll(strings.TrimPrefix(name, prefix), "/", "_")
			if other, dup := from[key]; dup {
				return fetcher.Result{Err: fmt.Errorf("%s: parameters %q and %q both become key %q", t.describe(), other, name, key)}
			}
			from[key] = name
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

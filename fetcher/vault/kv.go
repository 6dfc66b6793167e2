package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	gopath "path"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/patas/patas-secrets/fetcher"
)

// mount is what sys/internal/ui/mounts/<path> says about the engine serving a path.
type mount struct {
	path string // "secret/"
	typ  string // "kv", "database", …
	kv   int    // KV version, 1 or 2; 0 for any other engine
}

// detectMount asks Vault which engine serves path, exactly as `vault kv` does
// (kvPreflightVersionRequest): a 404 means a Vault too old to say, read as KV v1 at path.
func (c *Client) detectMount(ctx context.Context, s *session, path string) (mount, error) {
	sec, err := c.api.read(ctx, s.header(), "sys/internal/ui/mounts/"+path, nil)
	if isStatus(err, http.StatusNotFound) {
		return mount{typ: "kv", kv: 1}, nil
	}
	if err != nil {
		return mount{}, fmt.Errorf("finding the mount of %s: %w", path, err)
	}
	if sec == nil || sec.Data == nil {
		return mount{}, fmt.Errorf("finding the mount of %s: empty answer", path)
	}
	m := mount{}
	m.path, _ = sec.Data["path"].(string)
	m.typ, _ = sec.Data["type"].(string)
	if m.typ == "kv" || m.typ == "generic" || m.typ == "" {
		m.kv = 1
		if opts, ok := sec.Data["options"].(map[string]any); ok {
			if v, _ := opts["version"].(string); v == "2" {
				m.kv = 2
			}
		}
	}
	return m, nil
}

// kvV2Path inserts prefix ("data") after the mount, as the CLI's addPrefixToKVPath does,
// including its handling of a mount path that carries namespaces the path lacks.
func kvV2Path(path, mountPath, prefix string) string {
	if path == mountPath || path == strings.TrimSuffix(mountPath, "/") {
		return gopath.Join(mountPath, prefix)
	}
	suffix := strings.TrimPrefix(path, mountPath)
	for suffix == path {
		parts := strings.SplitN(mountPath, "/", 2)
		if len(parts) <= 1 || parts[1] == "" {
			break
		}
		mountPath = strings.TrimSuffix(parts[1], "/")
		suffix = strings.TrimPrefix(suffix, mountPath)
	}
	return gopath.Join(mountPath, prefix, suffix)
}

// readKV reads one KV secret. KV v2 fills Version and Created from its metadata.
func (c *Client) readKV(ctx context.Context, s *session, m mount, ref fetcher.Ref) (fetcher.Secret, error) {
	if m.kv == 1 {
		if ref.Version != "" {
			return fetcher.Secret{}, fmt.Errorf("%s is on a KV version 1 mount (%s), which keeps no versions: drop @%s", ref.Path, m.path, ref.Version)
		}
		sec, err := c.api.read(ctx, s.header(), ref.Path, nil)
		if err != nil {
			return fetcher.Secret{}, err
		}
		if sec == nil {
			return fetcher.Secret{}, fetcher.ErrNotFound
		}
		return fetcher.Secret{Data: toValues(sec.Data)}, nil
	}
	var query url.Values
	if ref.Version != "" {
		query = url.Values{"version": {ref.Version}}
	}
	sec, err := c.api.read(ctx, s.header(), kvV2Path(ref.Path, m.path, "data"), query)
	if err != nil {
		return fetcher.Secret{}, err
	}
	return kvV2Secret(sec)
}

// kvV2Secret unpacks {data: {...}, metadata: {...}}. A deleted or destroyed version comes
// back with metadata and no data: that is ErrNotFound.
func kvV2Secret(sec *api.Secret) (fetcher.Secret, error) {
	if sec == nil || sec.Data == nil {
		return fetcher.Secret{}, fetcher.ErrNotFound
	}
	meta, _ := sec.Data["metadata"].(map[string]any)
	var out fetcher.Secret
	if meta != nil {
		out.Version = scalarString(meta["version"])
		if t, err := time.Parse(time.RFC3339Nano, scalarString(meta["created_time"])); err == nil {
			out.Created = t
		}
	}
	data, ok := sec.Data["data"].(map[string]any)
	if !ok {
		if meta == nil {
			return fetcher.Secret{}, errors.New("not a KV version 2 answer (no data, no metadata)")
		}
		if d, _ := meta["destroyed"].(bool); d {
			return fetcher.Secret{}, fmt.Errorf("version %s was destroyed: %w", out.Version, fetcher.ErrNotFound)
		}
		if dt := scalarString(meta["deletion_time"]); dt != "" {
			return fetcher.Secret{}, fmt.Errorf("version %s was deleted at %s: %w", out.Version, dt, fetcher.ErrNotFound)
		}
		return fetcher.Secret{}, fmt.Errorf("version %s has no data: %w", out.Version, fetcher.ErrNotFound)
	}
	out.Data = toValues(data)
	return out, nil
}

// toValues turns Vault's JSON fields into Values: strings as they are, numbers and booleans
// as their JSON text, null as "", objects and arrays as compact JSON (as
// fetcher.ParseJSONObject does for blob stores).
func toValues(m map[string]any) map[string]fetcher.Value {
	out := make(map[string]fetcher.Value, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = fetcher.StringValue(x)
		case nil:
			out[k] = fetcher.StringValue("")
		case json.Number, bool:
			out[k] = fetcher.StringValue(scalarString(x))
		default:
			b, err := json.Marshal(x)
			if err != nil {
				b = nil
			}
			out[k] = fetcher.NewValue(b)
		}
	}
	return out
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	}
	return ""
}

// durationField reads a number of seconds (json.Number or a string) from a response.
func durationField(v any) time.Duration {
	n, err := strconv.ParseInt(scalarString(v), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// describe names m's engine in messages: "KV version 1", "database".
func (m mount) describe() string {
	if m.kv > 0 {
		return "KV version " + strconv.Itoa(m.kv)
	}
	return m.typ
}

package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/patas/patas-secrets/fetcher"
)

// PKIRequest is what a pki/issue/ROLE read asks Vault for (the fields of Vault's issue
// endpoint that a service certificate needs).
type PKIRequest struct {
	CommonName string
	AltNames   []string
	IPSANs     []string
	TTL        time.Duration // 0: the role's default
}

// issuedCert is a certificate Vault issued, served to every read until it is 2/3 through
// its lifetime, so every output of a refresh gets the same certificate, key and CA.
type issuedCert struct {
	mu       sync.Mutex
	data     map[string]fetcher.Value
	serial   string
	issued   time.Time
	notAfter time.Time
	dueAt    time.Time
}

// isPKIIssue reports whether path is MOUNT/issue/ROLE on a pki mount.
func isPKIIssue(m mount, path string) bool {
	rest, ok := strings.CutPrefix(path, m.path)
	return m.typ == "pki" && ok && strings.HasPrefix(rest, "issue/") && len(rest) > len("issue/")
}

func (c *Client) certFor(path string) *issuedCert {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.certs == nil {
		c.certs = map[string]*issuedCert{}
	}
	ic := c.certs[path]
	if ic == nil {
		ic = &issuedCert{}
		c.certs[path] = ic
	}
	return ic
}

// readPKI returns the certificate for path, issuing one (a write to pki/issue/ROLE) when
// there is none or the current one is 2/3 through its lifetime. Its fields: certificate,
// private_key, issuing_ca, ca_chain (PEM, one after the other), serial_number. TTL is the
// time left, so the engine comes back at 2/3 of it.
func (c *Client) readPKI(ctx context.Context, s *session, ref fetcher.Ref) (fetcher.Secret, error) {
	if ref.Version != "" {
		return fetcher.Secret{}, fmt.Errorf("%s issues certificates: versions (@%s) do not apply", ref.Path, ref.Version)
	}
	req, ok := c.pki[ref.Path]
	if !ok {
		return fetcher.Secret{}, fmt.Errorf("%s issues certificates: add it under the backend's pki settings with its common_name", ref.Path)
	}
	ic := c.certFor(ref.Path)
	ic.mu.Lock()
	defer ic.mu.Unlock()
	now := c.now()
	if ic.data != nil && now.Before(ic.dueAt) {
		return ic.secret(now), nil
	}
	data := map[string]any{"common_name": req.CommonName}
	if len(req.AltNames) > 0 {
		data["alt_names"] = strings.Join(req.AltNames, ",")
	}
	if len(req.IPSANs) > 0 {
		data["ip_sans"] = strings.Join(req.IPSANs, ",")
	}
	if req.TTL > 0 {
		data["ttl"] = req.TTL.String()
	}
	sec, err := c.api.write(ctx, s.header(), ref.Path, data)
	if err != nil {
		return fetcher.Secret{}, fmt.Errorf("issuing a certificate at %s: %w", ref.Path, err)
	}
	if sec == nil || sec.Data == nil {
		return fetcher.Secret{}, fmt.Errorf("issuing a certificate at %s: empty answer", ref.Path)
	}
	exp, err := jsonInt(sec.Data["expiration"])
	if err != nil || exp <= now.Unix() {
		return fetcher.Secret{}, fmt.Errorf("issuing a certificate at %s: the answer has no future expiration", ref.Path)
	}
	vals := toValues(sec.Data)
	if chain, ok := sec.Data["ca_chain"].([]any); ok {
		var pems []string
		for _, p := range chain {
			if s, ok := p.(string); ok {
				pems = append(pems, strings.TrimSpace(s))
			}
		}
		vals["ca_chain"] = fetcher.StringValue(strings.Join(pems, "\n") + "\n")
	}
	ic.data, ic.issued, ic.notAfter = vals, now, time.Unix(exp, 0)
	ic.serial, _ = sec.Data["serial_number"].(string)
	ic.dueAt = now.Add(ic.notAfter.Sub(now) * 2 / 3)
	c.log.Info("issued vault certificate", zap.String("path", ref.Path), zap.String("serial", ic.serial), zap.Time("not_after", ic.notAfter))
	return ic.secret(now), nil
}

func (ic *issuedCert) secret(now time.Time) fetcher.Secret {
	return fetcher.Secret{Data: ic.data, Version: ic.serial, Created: ic.issued, TTL: max(ic.notAfter.Sub(now), time.Second)}
}

func jsonInt(v any) (int64, error) {
	switch x := v.(type) {
	case json.Number:
		return x.Int64()
	case float64:
		return int64(x), nil
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

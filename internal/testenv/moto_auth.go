package testenv

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MotoWithAuth starts a moto_server of its own (not the package's shared one) that checks
// IAM credentials and policies from its (free+1)th request on (moto's
// INITIAL_NO_AUTH_ACTION_COUNT). It is stopped when t ends.
func MotoWithAuth(t testing.TB, free int) *MotoServer {
	t.Helper()
	bin := Binary(t, "PATAS_TEST_MOTO_BIN", "moto_server", motoHow)
	m, err := startMoto(bin, "INITIAL_NO_AUTH_ACTION_COUNT="+strconv.Itoa(free))
	if err != nil {
		t.Fatalf("starting moto_server with IAM checks: %v", err)
	}
	t.Cleanup(m.stop)
	return m
}

// AWSKeys is an IAM access key pair.
type AWSKeys struct{ ID, Secret string }

// IAMUserWithoutPolicy creates an IAM user with no policy and an access key for it (two
// requests, made before moto checks IAM). Every read made with the key is refused.
func (m *MotoServer) IAMUserWithoutPolicy(t testing.TB, name string) AWSKeys {
	t.Helper()
	m.iam(t, url.Values{"Action": {"CreateUser"}, "UserName": {name}}, nil)
	var out struct {
		Key struct {
			ID     string `xml:"AccessKeyId"`
			Secret string `xml:"SecretAccessKey"`
		} `xml:"CreateAccessKeyResult>AccessKey"`
	}
	m.iam(t, url.Values{"Action": {"CreateAccessKey"}, "UserName": {name}}, &out)
	if out.Key.ID == "" || out.Key.Secret == "" {
		t.Fatalf("CreateAccessKey: no key in the answer")
	}
	return AWSKeys{ID: out.Key.ID, Secret: out.Key.Secret}
}

// iam makes one IAM query-protocol call. moto routes it by the credential scope of the
// Authorization header and does not check the signature before it enforces IAM.
func (m *MotoServer) iam(t testing.TB, form url.Values, out any) {
	t.Helper()
	form.Set("Version", "2010-05-08")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	day := time.Now().UTC().Format("20060102")
	req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=AKIDSETUP/%s/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0", day))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("IAM %s: %v", form.Get("Action"), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IAM %s: %s: %s", form.Get("Action"), resp.Status, body)
	}
	if out != nil {
		if err := xml.Unmarshal(body, out); err != nil {
			t.Fatalf("IAM %s: %v", form.Get("Action"), err)
		}
	}
}

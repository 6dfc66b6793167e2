package kubernetes_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/patas/patas-secrets/internal/testenv"
)

// TestAWSOverlay: the aws overlay against moto behind a TLS front. Changed for the test: the
// endpoint (config), and, as there is no EKS webhook here to inject IRSA's web identity, static
// test credentials and AWS_CA_BUNDLE (the front's CA, from the patas-secrets-ca ConfigMap) in
// the patas-secrets containers' environment. PATAS's container gets neither.
func TestAWSOverlay(t *testing.T) {
	c := cluster(t)
	m := testenv.Moto(t)
	f := startFront(t, m.URL, true)
	dbURL := appDatabase(t)
	sm := secretsmanager.New(secretsmanager.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(m.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDKUBETEST", "test", ""),
	})
	data, _ := json.Marshal(map[string]string{"database_url": dbURL, "api_keys": apiKeys(1), "llm_api_key": "canary-llm-aws"})
	value := string(data)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("patas/production"), SecretString: aws.String(value)}); err != nil {
		t.Fatal(err)
	}
	var ops strings.Builder
	for _, i := range []int{1, 2} { // patas-secrets-once, patas-secrets
		ops.WriteString(`      - op: add
        path: /spec/template/spec/initContainers/` + string(rune('0'+i)) + `/env
        value:
          - {name: AWS_ACCESS_KEY_ID, value: AKIDKUBETEST}
          - {name: AWS_SECRET_ACCESS_KEY, value: test}
          - {name: AWS_CA_BUNDLE, value: /etc/patas-secrets-ca/ca.crt}
`)
	}
	apply(t, c, deployment{
		overlay: "aws",
		config: func(s string) string {
			return strings.Replace(s, "aws: {type: aws, region: eu-west-1}", "aws: {type: aws, region: eu-west-1, endpoint: "+f.URL()+"}", 1)
		},
		extra: []string{caConfigMap(f.CAPEM)},
		ops:   ops.String(),
		wait:  true,
	})
	for _, p := range pods(t, c) {
		checkApp(t, p.Status.PodIP)
		if p.Annotations["eks.amazonaws.com/skip-containers"] != "patas" {
			t.Errorf("%s: the pod lacks eks.amazonaws.com/skip-containers: patas", p.Name)
		}
	}
}

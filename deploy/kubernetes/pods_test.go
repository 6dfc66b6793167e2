package kubernetes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/patas/patas-secrets/internal/testenv/kube"
)

// pods returns the Deployment's pods.
func pods(t testing.TB, c *kube.Cluster) []corev1.Pod {
	t.Helper()
	var list corev1.PodList
	if err := json.Unmarshal([]byte(kubectl(t, c, "-n", ns, "get", "pods", "-l", "app.kubernetes.io/name=patas", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func status(p corev1.Pod, name string) corev1.ContainerStatus {
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if s.Name == name {
			return s
		}
	}
	return corev1.ContainerStatus{}
}

// whoami is the PATAS-shaped app's authenticated endpoint: 200 when key is one of its
// API_KEYS and its DATABASE_URL reaches PostgreSQL, 401 for an unknown key.
type whoami struct {
	Namespace string `json:"namespace"`
	DBUser    string `json:"db_user"`
	PID       int    `json:"pid"`
}

// httpClient waits as a load balancer does (nginx: 60 s): an app restarting on a rotation
// answers from its socket's backlog once the new process is up, a few seconds later.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// ask calls /api/v1/whoami with key; err is non-nil for anything but a 200.
func ask(ctx context.Context, ip, key string) (whoami, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ip+":8000/api/v1/whoami", nil)
	if err != nil {
		return whoami{}, err
	}
	req.Header.Set("X-API-Key", key)
	resp, err := httpClient.Do(req)
	if err != nil {
		return whoami{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return whoami{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return whoami{}, fmt.Errorf("%s: %s", resp.Status, body)
	}
	var w whoami
	return w, json.Unmarshal(body, &w)
}

// waitKey polls the app in a pod until key is accepted.
func waitKey(t testing.TB, ip, key string, limit time.Duration) (whoami, time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var lastErr error
	for {
		w, err := ask(ctx, ip, key)
		if err == nil {
			return w, time.Now()
		}
		lastErr = err
		select {
		case <-ctx.Done():
			t.Fatalf("app at %s never accepted the expected key within %s (last: %v)", ip, limit, lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

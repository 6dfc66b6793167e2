// Command standin is a test stand-in for the PATAS API, used by the Compose and Swarm examples
// and the deployment tests: it reports which of PATAS's variables it was started with, as
// SHA-256 fingerprints (never the values), in a log line at start-up and on GET /env.
// It is not part of a real deployment.
//
//	standin                      serve on $STANDIN_ADDR (default :8000) until SIGTERM
//	standin probe URL            exit 0 when URL answers 200 (a health check without curl)
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// patasVars are the variables PATAS reads (seed/secret-management-guide.txt).
var patasVars = []string{"API_KEYS", "DATABASE_URL", "LLM_API_KEY", "OPENAI_API_KEY", "EMBEDDING_API_KEY", "REDIS_URL", "TAS_API_KEY"}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "probe" {
		os.Exit(probe(os.Args[2]))
	}
	if err := serve(); err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		os.Exit(1)
	}
}

// fingerprint is what the stand-in says about one variable.
func fingerprint(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// seen returns the fingerprints of the watched variables that are set.
func seen() map[string]string {
	names := patasVars
	if extra := os.Getenv("STANDIN_VARS"); extra != "" {
		names = strings.Split(extra, ",")
	}
	out := make(map[string]string)
	for _, n := range names {
		if v, ok := os.LookupEnv(strings.TrimSpace(n)); ok {
			out[strings.TrimSpace(n)] = fingerprint(v)
		}
	}
	return out
}

func serve() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	env := seen()
	line, _ := json.Marshal(map[string]any{"msg": "standin started", "pid": os.Getpid(), "env": env})
	fmt.Println(string(line))

	mux := http.NewServeMux()
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"pid": os.Getpid(), "env": env})
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	addr := os.Getenv("STANDIN_ADDR")
	if addr == "" {
		addr = ":8000"
	}
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func probe(url string) int {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standin probe:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "standin probe:", resp.Status)
		return 1
	}
	return 0
}

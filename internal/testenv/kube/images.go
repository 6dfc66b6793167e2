package kube

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// LoadImages moves images from the Docker engine into the cluster's containerd (docker save,
// ctr import): pods use them with imagePullPolicy: Never, as no registry is reachable. The
// first call also builds the sandbox ("pause") image FROM scratch.
func (c *Cluster) LoadImages(ctx context.Context, images ...string) error {
	if !c.hasImage(ctx, PauseImage) {
		if err := c.buildPause(ctx); err != nil {
			return fmt.Errorf("building the pause image: %w", err)
		}
		images = append(images, strings.TrimPrefix(PauseImage, "docker.io/"))
	}
	tar := filepath.Join(c.Dir, "images.tar")
	defer os.Remove(tar)
	if out, err := exec.CommandContext(ctx, "docker", append([]string{"save", "-o", tar}, images...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("docker save %v: %w: %s", images, err, out)
	}
	if out, err := c.ctr(ctx, "images", "import", tar); err != nil {
		return fmt.Errorf("ctr images import: %w: %s", err, out)
	}
	return nil
}

func (c *Cluster) hasImage(ctx context.Context, ref string) bool {
	out, err := c.ctr(ctx, "images", "ls", "-q")
	return err == nil && strings.Contains("\n"+out+"\n", "\n"+ref+"\n")
}

func (c *Cluster) ctr(ctx context.Context, args ...string) (string, error) {
	sock := filepath.Join(c.Dir, "containerd", "containerd.sock")
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"-a", sock, "-n", "k8s.io"}, args...)...).CombinedOutput()
	return string(out), err
}

// buildPause builds ./pause static and puts it in an image FROM scratch in the Docker engine.
func (c *Cluster) buildPause(ctx context.Context) error {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return fmt.Errorf("cannot find the pause source")
	}
	dir := filepath.Join(c.Dir, "pause-image")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "pause"), "./pause")
	build.Dir = filepath.Dir(file)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w: %s", err, out)
	}
	df := "FROM scratch\nCOPY pause /pause\nENTRYPOINT [\"/pause\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "docker", "build", "-q", "-t", strings.TrimPrefix(PauseImage, "docker.io/"), dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build: %w: %s", err, out)
	}
	return nil
}

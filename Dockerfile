# patas-secrets: a static binary on scratch, with CA certificates, a non-root user and no shell.
#
#   docker build -t patas-secrets:local .
#   docker build --build-arg VERSION=v1.2.3 --build-arg COMMIT="$(git rev-parse HEAD)" -t patas-secrets:v1.2.3 .
#
# The builder stage's base image is a build argument. On a machine that reaches no image
# registry, make one from the local Go toolchain and pass it in (docs/deploy.md):
#   docker build --build-arg GO_IMAGE="$(deploy/test/builder-image.sh)" -t patas-secrets:local .
# Without the Go module proxy, vendor the modules into the context and pass GOPROXY=off.
#
# The test stand-in for PATAS (deploy/standin) is the `standin` target:
#   docker build --target standin -t patas-standin:local .
# Written for both the classic builder and BuildKit (no RUN --mount, no syntax directive,
# which would need a registry).
#
# One image per backend set: TAGS goes to `go build -tags` (build tags no_file, no_vault,
# no_aws, no_gcp leave a backend out; a config naming a missing one gets a clear error):
#   docker build --build-arg TAGS=no_aws,no_gcp -t patas-secrets:vault .
#
# Cross-compiled: the builder runs on the build machine's platform and Go targets the
# image's (BuildKit sets BUILDPLATFORM, TARGETOS and TARGETARCH):
#   docker buildx build --platform linux/amd64,linux/arm64 -t registry.example/patas-secrets:1.0 .
#
# Reproducible: the binary is built with -trimpath and no VCS stamp or date, the final
# image is FROM scratch, and every file copied into it is dated SOURCE_DATE_EPOCH (default:
# 0; pass the commit time, `--build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)`;
# BuildKit >= 0.11 also uses it for the image's own dates). The one unpinned input is the
# builder: a release build pins it by digest, GO_IMAGE=golang:1.26@sha256:<digest>.

ARG GO_IMAGE=golang:1.26
ARG BUILDPLATFORM

FROM --platform=${BUILDPLATFORM:-linux/amd64} ${GO_IMAGE} AS builder
ARG VERSION=dev
ARG COMMIT=unknown
ARG GOPROXY
ARG TARGETOS
ARG TARGETARCH
ARG TAGS=""
ARG SOURCE_DATE_EPOCH=0
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
WORKDIR /src
# Modules first, so a source change does not download them again. GOPROXY=off means the
# context carries vendor/ (go build then uses it by itself).
COPY go.mod go.sum ./
RUN if [ "${GOPROXY:-}" != off ]; then go mod download; fi
COPY . .
RUN GOOS="${TARGETOS:-$(go env GOOS)}" GOARCH="${TARGETARCH:-$(go env GOARCH)}" \
    go build -trimpath -tags "${TAGS}" -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
        -o /out/patas-secrets ./cmd/patas-secrets
# The final image's few files: the CA bundle, a passwd naming the non-root user, and the
# shared directories owned by it: /run/patas (outputs) and /patas/bin (`install` target).
# A Docker named volume mounted there starts with this owner. All dated SOURCE_DATE_EPOCH.
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/run/patas /rootfs/patas/bin /rootfs/etc/patas-secrets \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >/rootfs/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' >/rootfs/etc/group \
 && chown 65532:65532 /rootfs/run/patas /rootfs/patas/bin && chmod 0750 /rootfs/run/patas && chmod 0755 /rootfs/patas/bin \
 && find /rootfs /out -exec touch -h -d "@${SOURCE_DATE_EPOCH}" {} +

# The stand-in for PATAS used by docker-compose.yml and the Swarm example (tests only). It
# carries patas-secrets, as a PATAS image extended for Swarm would (docs/deploy.md).
FROM builder AS standin-builder
RUN go build -trimpath -ldflags "-s -w" -o /out/standin ./deploy/standin

FROM scratch AS standin
COPY --from=builder /rootfs/etc/passwd /rootfs/etc/group /etc/
COPY --from=builder /out/patas-secrets /usr/local/bin/patas-secrets
COPY --from=standin-builder /out/standin /standin
USER 65532:65532
EXPOSE 8000
ENTRYPOINT ["/standin"]

FROM scratch
ARG VERSION=dev
ARG COMMIT=unknown
COPY --from=builder /rootfs/ /
COPY --from=builder /out/patas-secrets /usr/local/bin/patas-secrets
USER 65532:65532
# No VOLUME: an anonymous volume would put the secrets on disk by default. Mount a tmpfs at
# /run/patas; the ECS image (deploy/ecs/Dockerfile) declares its own for Fargate's owner.
ENV PATAS_SECRETS_CONFIG=/etc/patas-secrets/config.yaml
LABEL org.opencontainers.image.title="patas-secrets" \
      org.opencontainers.image.description="Fetches secrets for the PATAS API into a shared tmpfs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}"
# health reads the listen address from $PATAS_SECRETS_CONFIG and asks the running sidecar
# for liveness: alive and serving the last good outputs. A backend outage never fails it
# (`health --ready` is the freshness question, for alerts and routing, never for killing).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/patas-secrets", "health"]
ENTRYPOINT ["/usr/local/bin/patas-secrets"]
CMD ["run"]

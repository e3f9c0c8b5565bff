# tfpilot for automation: `tfpilot reconcile` in a Kubernetes CronJob or an ECS scheduled task
# (docs/operations.md#a-container-for-automation). A static musl build of the locked sources
# with the toolchain CI uses, run as a non-root user from distroless/static (CA certificates,
# /etc/passwd, nothing else: no shell, no package manager).
#
#   docker build --build-arg TFPILOT_BUILD_COMMIT="$(git rev-parse --short=12 HEAD)" -t tfpilot .
#   docker run --rm tfpilot --version

FROM rust:1.95.0-slim-bookworm AS build
# musl-gcc for the C inside the static build (aws-lc for TLS, libdbus for the keyring).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends musl-tools=1.2.3-1 \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
# What `tfpilot --version` says; the build context carries no .git.
ARG TFPILOT_BUILD_COMMIT=unknown
ARG SOURCE_DATE_EPOCH
ENV TFPILOT_BUILD_COMMIT=${TFPILOT_BUILD_COMMIT} \
    SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH}
RUN cargo build --release --locked --target x86_64-unknown-linux-musl \
    && install -m 0755 target/x86_64-unknown-linux-musl/release/tfpilot /tfpilot

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /tfpilot /usr/local/bin/tfpilot
# No keyring in a container: the GitHub App key and other secrets come from mounted files and
# environment variables; the cache and state directories are in the home of distroless's
# non-root user (65532).
ENV TFPILOT_KEYRING=off \
    HOME=/home/nonroot
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tfpilot"]
CMD ["reconcile"]

# image: sail-export:latest
# The static Linux binary alone: no shell, no libc, the build machine's CA certificates, a
# user other than root working in /data (its home: checkpoints of object storage runs go to
# /data/.cache), and a /tmp of its own for SQLite's temporary files. From a checkout, on
# Linux (Docker with BuildKit, or buildah/podman):
#   cargo build --release --locked --target x86_64-unknown-linux-musl
#   docker build --build-context certs=/etc/ssl/certs -t sail-export:latest .
# Then `docker run --rm sail-export:latest demo`: the arguments are sail-export's.
FROM scratch
COPY --from=certs ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY target/x86_64-unknown-linux-musl/release/sail-export /usr/local/bin/sail-export
USER 65532:65532
WORKDIR /tmp
WORKDIR /data
ENV HOME=/data
ENTRYPOINT ["/usr/local/bin/sail-export"]

# deeprank in a container, for docker-compose.yml. The binary is static and
# carries the default model.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/deeprank ./cmd/deeprank

FROM debian:bookworm-slim
COPY --from=build /out/deeprank /usr/local/bin/deeprank
ENTRYPOINT ["deeprank"]
CMD ["--help"]

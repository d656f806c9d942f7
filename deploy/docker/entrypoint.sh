#!/bin/sh
# Starts one ExpertMesh service: `expertmesh-service router|expert-shard|predictor [flags]`.
# Flags and EXPERTMESH_<SERVICE>_* environment variables are passed through (--help lists them).
set -eu
service="${1:-}"
[ $# -gt 0 ] && shift
case "$service" in
  router|expert-shard|predictor) exec node "/app/services/$service/dist/main.js" "$@" ;;
  *) echo "usage: expertmesh-service router|expert-shard|predictor [flags]" >&2; exit 2 ;;
esac

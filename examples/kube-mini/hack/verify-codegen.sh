#!/usr/bin/env bash
# hack/verify-codegen.sh [DIR...]: fail when a generated file is missing or
# out of date (hack/update-codegen.sh --verify-only; nothing is written).
exec "$(dirname "${BASH_SOURCE[0]}")/update-codegen.sh" --verify-only "$@"

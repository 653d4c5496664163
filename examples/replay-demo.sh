#!/usr/bin/env bash
# The demo's traffic replayed against a candidate ruleset (docs/replay.md):
#
#   1. serve the example shop with `arbiter demo` (embedded Redis and NATS);
#   2. post decisions for its generated customers, and outcomes for some of
#      them (orders of the whole decision, dismissals of the first offer);
#   3. export the stream with `arbiter events export`;
#   4. write a candidate: the example rules with spend_and_save's amounts
#      doubled ($15/$40 become $30/$80) and welcome_10 removed;
#   5. replay the export against it, as text and as JSON, with a --fail-if gate.
#
# Run from the repository's root: examples/replay-demo.sh [DECISIONS]
# Needs go, curl and sed. Everything is written under a temporary directory.
set -euo pipefail

n=${1:-800}
port=${PORT:-18089}
tmp=$(mktemp -d)
trap 'kill "$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true; rm -rf "$tmp"' EXIT

go build -o "$tmp/arbiter" ./cmd/arbiter
"$tmp/arbiter" demo --addr "127.0.0.1:$port" >"$tmp/demo.log" 2>&1 &
demo=$!
for _ in $(seq 100); do
  grep -q 'events ' "$tmp/demo.log" 2>/dev/null && curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.2
done
nats=$(sed -n 's/^ *events *\(nats:[^ ]*\).*/\1/p' "$tmp/demo.log" | head -1)
[ -n "$nats" ] || { cat "$tmp/demo.log"; echo "no NATS address in the demo's output" >&2; exit 1; }

api="http://127.0.0.1:$port"
placements=(checkout checkout checkout cart)
cats=(shoes apparel beauty home outerwear accessories)
RANDOM=7
for i in $(seq "$n"); do
  c=$(printf 'c-%06d' $((RANDOM % 500 + 1)))
  p=${placements[$((RANDOM % 4))]}
  cat1=${cats[$((RANDOM % 6))]}
  cat2=${cats[$((RANDOM % 6))]}
  price1=$((RANDOM % 140 + 10)).99
  price2=$((RANDOM % 90 + 10)).99
  body="{\"customer_id\":\"$c\",\"placement\":\"$p\",\"channel\":\"web\",\"context\":{\"device\":\"desktop\"},\"cart\":{\"currency\":\"USD\",\"items\":[{\"sku\":\"$cat1-1\",\"category\":\"$cat1\",\"price\":$price1,\"quantity\":1},{\"sku\":\"$cat2-2\",\"category\":\"$cat2\",\"price\":$price2,\"quantity\":$((RANDOM % 2 + 1))}]}}"
  answer=$(curl -fs -X POST "$api/v1/decide" -H 'Content-Type: application/json' -d "$body")
  id=$(printf '%s' "$answer" | sed -n 's/.*"decision_id":"\([^"]*\)".*/\1/p')
  first=$(printf '%s' "$answer" | sed -n 's/.*"actions":\[{"offer_id":"\([^"]*\)".*/\1/p')
  [ -n "$first" ] || continue
  case $((RANDOM % 10)) in
  0) curl -fs -X POST "$api/v1/outcomes" -d "{\"decision_id\":\"$id\",\"customer_id\":\"$c\",\"type\":\"converted\",\"value\":$price1,\"currency\":\"USD\"}" >/dev/null ;;
  1) curl -fs -X POST "$api/v1/outcomes" -d "{\"decision_id\":\"$id\",\"customer_id\":\"$c\",\"offer_id\":\"$first\",\"type\":\"dismissed\"}" >/dev/null ;;
  esac
done
sleep 1 # the publisher sends its last batch

"$tmp/arbiter" events export --nats "$nats" >"$tmp/events.jsonl"
echo "exported $(wc -l <"$tmp/events.jsonl") events"

cp -r examples/checkout "$tmp/candidate"
rm -rf "$tmp/candidate/tests"
sed -i 's/{min_total: 100, amount: 15}/{min_total: 100, amount: 30}/; s/{min_total: 200, amount: 40}/{min_total: 200, amount: 80}/' "$tmp/candidate/offers/basket.yaml"
printf '# welcome_10 removed by the candidate\noffers: []\n' >"$tmp/candidate/offers/welcome.yaml"

echo
echo '$ arbiter replay --rules candidate --baseline examples/checkout --events events.jsonl'
"$tmp/arbiter" replay --rules "$tmp/candidate" --baseline examples/checkout --events "$tmp/events.jsonl"
echo
echo '$ arbiter replay --rules candidate --baseline examples/checkout --events events.jsonl --json'
"$tmp/arbiter" replay --rules "$tmp/candidate" --baseline examples/checkout --events "$tmp/events.jsonl" --json
echo
echo "\$ arbiter replay ... --fail-if 'spend_increase_pct > 10' --fail-if 'offers_removed > 0'"
"$tmp/arbiter" replay --rules "$tmp/candidate" --baseline examples/checkout --events "$tmp/events.jsonl" \
  --fail-if 'spend_increase_pct > 10' --fail-if 'offers_removed > 0' >/dev/null || echo "exit status $?"

#!/usr/bin/env bash
# The harness as a user runs it against a system it did not build in: the reference agent as a
# separate process (`pen-client agent`), configured only from what `pen-conformance setup`
# prints, driven through a `target.toml` — first by the command trigger (`pen-client trigger`),
# with the platform embedded in `run` and the agent started before it, then by the webhook
# trigger against a platform kept up by `pen-conformance serve` (twice: the platform and the
# system stay configured across runs). The suite must pass, and every defect a scenario claims
# must be caught by those scenarios (each defect is run on the scenarios that claim it).
#
#   ci/user-path.sh            # uses target/debug binaries (built if missing)
#   PEN_PROFILE=release ci/user-path.sh
set -euo pipefail
cd "$(dirname "$0")/.."

profile=${PEN_PROFILE:-debug}
if [ "$profile" = release ]; then
  cargo build --locked -q --release -p pen-client -p pen-conformance
else
  cargo build --locked -q -p pen-client -p pen-conformance
fi
bin=$PWD/target/$profile
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n==> %s\n' "$*"; }

# Ports of this run (the platform, its control plane, the agent's trigger).
base=$((20000 + RANDOM % 20000))
rest=127.0.0.1:$base
control=127.0.0.1:$((base + 1))
trigger=127.0.0.1:$((base + 2))

write_target() { # $1 file, $2 [trigger] body
  cat >"$1" <<EOF
name = "pen-client agent (outro processo)"

[sut]
organisation = "org-a"
unidade = "1/152254"
max_document_mb = 2
block_bytes = 262144
accepts_unsigned = false
unmapped_especie = 5
pki_dir = "pki"
deadline_secs = 8
preflight_secs = 60

[simulator]
addr = "$rest"
control_addr = "$control"

[trigger]
$2
EOF
}

mkdir -p "$work/sut"
write_target "$work/sut/target.toml" "type = \"command\"
send = \"$bin/pen-client trigger --addr $trigger send --pasta {pasta} --nup {nup} --destino {destino}\"
return = \"$bin/pen-client trigger --addr $trigger return --nup {nup} --destino {destino}\"
timeout_secs = 120"

say "setup (what to configure, printed once)"
"$bin/pen-conformance" setup --target-config "$work/sut/target.toml" | tee "$work/setup.txt"
field() { sed -n "s/^  $1 *//p" "$work/setup.txt"; }
url=$(field 'URL do barramento (REST v3):')
ca=$(field 'CA a confiar:')
identity=$(field 'certificado + chave (PEM):')
test -n "$url" && test -s "$ca" && test -s "$identity"
# The system's own configuration: the reference policy with the limit it declares.
sed 's/^max_document_mb = .*/max_document_mb = 2/' fixtures/data/agent/politica.toml >"$work/politica.toml"

start_agent() { # defect (or empty)
  local args=()
  [ -n "${1:-}" ] && args=(--defect "$1")
  "$bin/pen-client" --url "$url" --ca "$ca" --identity "$identity" agent \
    --unidade 1/152254 --policy "$work/politica.toml" --block 262144 --long-poll 1 \
    --trigger-addr "$trigger" --state-dir "$(mktemp -d -p "$work")" "${args[@]}" \
    >"$work/agent.log" 2>&1 &
  agent=$!
  pids+=("$agent")
}
stop_agent() { kill "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; }

# Which scenarios claim which defect, from the scenario files themselves.
claims() { # defect -> scenario ids
  grep -l "^catches = .*\"$1\"" fixtures/data/scenarios/*.toml | xargs -n1 basename | sed 's/\.toml$//'
}
verdict_of() { # report.json scenario-id -> verdict
  python3 -c 'import json, sys
report = json.load(open(sys.argv[1]))
print(next((r["verdict"]["verdict"] for r in report["results"] if r["id"] == sys.argv[2]), "ausente"))' "$1" "$2"
}

say "the suite, command trigger, agent started before the platform"
start_agent ""
"$bin/pen-conformance" run --target-config "$work/sut/target.toml" --json "$work/run.json"
stop_agent

say "every claimed defect caught by the scenarios that claim it"
defects=$(grep -ho '^catches = .*' fixtures/data/scenarios/*.toml | grep -o '"[a-z-]*"' | tr -d '"' | sort -u)
for defect in $defects; do
  start_agent "$defect"
  code=0
  only=()
  for id in $(claims "$defect"); do only+=(--scenario "$id"); done
  "$bin/pen-conformance" run --target-config "$work/sut/target.toml" "${only[@]}" \
    --json "$work/$defect.json" >"$work/$defect.log" 2>&1 || code=$?
  stop_agent
  if [ "$code" != 1 ]; then
    echo "defeito $defect: código de saída $code (esperado 1)" >&2
    tail -40 "$work/$defect.log" >&2
    exit 1
  fi
  for id in $(claims "$defect"); do
    got=$(verdict_of "$work/$defect.json" "$id")
    if [ "$got" != fail ]; then
      echo "defeito $defect: $id deu '$got', esperado fail" >&2
      exit 1
    fi
  done
  echo "$defect: detectado por $(claims "$defect" | tr '\n' ' ')"
done

say "the homologation rehearsal, command trigger: R1–R3 met, and each requirement's mutant fails it"
start_agent ""
"$bin/pen-conformance" homologacao --target-config "$work/sut/target.toml" --json "$work/homologacao.json" >"$work/homologacao.log" 2>&1 || {
  tail -60 "$work/homologacao.log" >&2
  exit 1
}
grep -q '"requisitos_atendidos": 3' "$work/homologacao.json"
stop_agent
for defect in never-fetches-recibo never-posts-recibo never-refuses; do
  start_agent "$defect"
  code=0
  "$bin/pen-conformance" homologacao --sem-riscos --target-config "$work/sut/target.toml" \
    --json "$work/homologacao-$defect.json" >"$work/homologacao-$defect.log" 2>&1 || code=$?
  stop_agent
  if [ "$code" != 1 ] || ! grep -q '"requisitos_atendidos": 2' "$work/homologacao-$defect.json"; then
    echo "homologação com $defect: código $code" >&2
    tail -60 "$work/homologacao-$defect.log" >&2
    exit 1
  fi
  echo "$defect: um requisito não atendido"
done

say "the suite, webhook trigger, platform kept up by serve"
mkdir -p "$work/web"
ln -s "$work/sut/pki" "$work/web/pki"
write_target "$work/web/target.toml" "type = \"webhook\"
url = \"http://$trigger/webhook\"
timeout_secs = 120"
"$bin/pen-conformance" serve --target-config "$work/web/target.toml" >"$work/serve.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do
  grep -q 'A plataforma fica no ar' "$work/serve.log" && break
  sleep 0.1
done
grep -q 'A plataforma fica no ar' "$work/serve.log"
start_agent ""
for round in 1 2; do
  "$bin/pen-conformance" run --target-config "$work/web/target.toml" --json "$work/web-$round.json"
done
stop_agent
echo "ok"

#!/usr/bin/env bash
# The Dockerfile's runtime stage, reproduced without Docker, then exercised:
#   - package.json, package-lock.json, src/ and routes/ copied into a fresh directory, and
#     `npm ci --omit=dev --ignore-scripts` there (production dependencies only, as the deps stage);
#   - the tree owned by root and made read-only, the server started from it as an unprivileged user
#     with NODE_ENV=production, a bearer key, and a HOME that does not exist;
#   - GET /readyz, one batch of two calls on POST /execute, a 401 without the key, SIGTERM -> exit 0,
#     and no file written in the tree.
# Node 24 is the repo's own (node_modules/.bin/node, from the `node` devDependency), standing in for
# the image's node: the production install does not contain it.
# Run as root to get the ownership and the user switch; otherwise the server runs as the current user.
set -euo pipefail
exec </dev/null

repo="$(cd "$(dirname "$0")/.." && pwd)"
node_bin="$(readlink -f "$repo/node_modules/.bin/node" 2>/dev/null || true)"
if [[ -z "$node_bin" || ! -x "$node_bin" ]]; then
  echo "FAIL: $repo/node_modules/.bin/node is missing: run npm ci in the repo first" >&2
  exit 1
fi
node_version="$("$node_bin" --version)"
if [[ "$node_version" != v24.* ]]; then
  echo "FAIL: $node_bin is $node_version, not Node 24" >&2
  exit 1
fi

app=""
scratch=""
server_pid=""
cleanup() {
  local status=$?
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n "$app" && -d "$app" ]]; then
    chmod -R u+w "$app" 2>/dev/null || true
    rm -rf "$app"
  fi
  if [[ -n "$scratch" && -d "$scratch" ]]; then rm -rf "$scratch"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ok() { printf 'ok   %s\n' "$*"; }
fail() {
  printf 'FAIL %s\n' "$*" >&2
  if [[ -n "$scratch" && -s "$scratch/server.log" ]]; then
    echo "---- server output ----" >&2
    cat "$scratch/server.log" >&2
    echo "-----------------------" >&2
  fi
  exit 1
}

# The application tree (the image's /app) and, apart from it, the script's own files.
app="$(mktemp -d -t toolgate-runtime.XXXXXX)"
scratch="$(mktemp -d -t toolgate-runtime-scratch.XXXXXX)"

echo "runtime stage of the Dockerfile, without Docker"
echo "node: $node_version ($node_bin)"

cp "$repo/package.json" "$repo/package-lock.json" "$app/"
cp -R "$repo/src" "$repo/routes" "$app/"
ok "copied package.json, package-lock.json, src/, routes/ into $app"

# npm itself runs on Node 24 too (the lockfile's engines want it).
(cd "$app" && PATH="$(dirname "$node_bin"):$PATH" npm ci --omit=dev --ignore-scripts --no-fund --no-audit --loglevel=error) \
  >"$scratch/npm.log" 2>&1 || { cat "$scratch/npm.log" >&2; fail "npm ci --omit=dev failed"; }
installed="$("$node_bin" -e "console.log(Object.keys(require(process.argv[1]).packages).length)" "$app/node_modules/.package-lock.json")"
ok "npm ci --omit=dev --ignore-scripts --no-fund --no-audit: $installed packages installed"
for dev in node typescript eslint openai @anthropic-ai/sdk fast-check; do
  [[ ! -e "$app/node_modules/$dev" ]] || fail "devDependency $dev is in the production install"
done
ok "no devDependency in the production install (node, typescript, eslint, openai, @anthropic-ai/sdk, fast-check checked)"

if [[ "$(id -u)" -eq 0 ]]; then
  chown -R root:root "$app"
  run_as=()
  if command -v setpriv >/dev/null; then
    run_as=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
  elif command -v runuser >/dev/null; then
    run_as=(runuser -u nobody --)
  else
    fail "running as root but neither setpriv nor runuser is available to drop privileges"
  fi
  who="nobody (${run_as[0]})"
else
  run_as=()
  who="$(id -un) (not root: no user switch, and the tree stays owned by $(id -un))"
fi
# mktemp made the directory 0700; the server's user must be able to read and traverse it.
chmod 755 "$app"
chmod -R a-w "$app"
ok "tree owned by $(stat -c %U "$app"), read-only (mode $(stat -c %a "$app") on the directory)"

port="$("$node_bin" -e "const s = require('node:net').createServer(); s.listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close() })")"
key="tg_$("$node_bin" -e "console.log(require('node:crypto').randomBytes(24).toString('hex'))")"
base="http://127.0.0.1:$port"

find "$app" -printf '%y %m %s %T@ %p\n' | sort >"$scratch/before.txt"

# A clean environment, like the image's: only what the Dockerfile and this run set.
(
  cd "$app"
  exec "${run_as[@]}" env -i \
    PATH="$(dirname "$node_bin"):/usr/local/bin:/usr/bin:/bin" \
    HOME="$app/no-home" \
    NODE_ENV=production HOST=127.0.0.1 PORT="$port" TOOLGATE_API_KEYS="$key" \
    "$node_bin" src/cli/toolgate.js
) >"$scratch/server.log" 2>&1 &
server_pid=$!
ok "started node src/cli/toolgate.js as $who, pid $server_pid, on $base, HOME=$app/no-home (absent, not creatable)"

# The checks speak HTTP with the same Node, from outside the tree.
http() { "$node_bin" --input-type=module -e "$1"; }

deadline=$((SECONDS + 20))
until http "
  const r = await fetch('$base/readyz').catch(() => null)
  process.exit(r?.status === 200 ? 0 : 1)
" 2>/dev/null; do
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited before it was ready"
  ((SECONDS < deadline)) || fail "GET /readyz did not answer 200 within 20 s"
  sleep 0.2
done
ok "GET /readyz answered 200"

# The image's HEALTHCHECK command, with the environment the image gives it (HOST=0.0.0.0) and with this run's.
for host in 0.0.0.0 127.0.0.1; do
  (cd "$app" && env -i PATH="$(dirname "$node_bin"):/usr/bin:/bin" HOST="$host" PORT="$port" "$node_bin" src/cli/toolgate.js healthcheck) >/dev/null ||
    fail "toolgate healthcheck with HOST=$host"
done
ok "toolgate healthcheck (the image's HEALTHCHECK) exits 0, with HOST=0.0.0.0 and HOST=127.0.0.1"

server_user="$(ps -o user= -p "$server_pid" | tr -d ' ')"
if [[ "$(id -u)" -eq 0 ]]; then
  [[ "$server_user" == nobody ]] || fail "the server runs as $server_user, not nobody"
fi
ok "the server process runs as $server_user"

http "
  const body = {
    id: 'chatcmpl-runtime-stage', object: 'chat.completion', created: 1764000000, model: 'gpt-4o-mini',
    choices: [{ index: 0, finish_reason: 'tool_calls', logprobs: null, message: {
      role: 'assistant', content: null, refusal: null,
      tool_calls: [
        { id: 'call_time', type: 'function', function: { name: 'get_time', arguments: JSON.stringify({ timezone: 'UTC' }) } },
        { id: 'call_date', type: 'function', function: { name: 'get_date', arguments: '{}' } },
      ],
    } }],
    usage: { prompt_tokens: 80, completion_tokens: 60, total_tokens: 140 },
  }
  const r = await fetch('$base/execute', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer $key' },
    body: JSON.stringify(body),
  })
  const text = await r.text()
  const fail = (why) => { console.error(why + ': HTTP ' + r.status + ' ' + text); process.exit(1) }
  if (r.status !== 200) fail('not 200')
  const reply = JSON.parse(text)
  if (reply.status !== 'complete') fail('status is not complete')
  const ids = reply.messages.map((m) => m.tool_call_id).join(',')
  if (ids !== 'call_time,call_date') fail('tool_call_ids are ' + ids)
  if (!reply.messages.every((m) => m.role === 'tool')) fail('not tool messages')
  const time = JSON.parse(reply.messages[0].content)
  if (time.timezone !== 'UTC') fail('get_time did not answer for UTC')
  console.log('ok   POST /execute with the key: 200, status complete, tool messages call_time then call_date (' + time.datetime + ')')
" || fail "POST /execute with the key"

http "
  const r = await fetch('$base/execute', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ choices: [] }),
  })
  if (r.status !== 401) { console.error('HTTP ' + r.status + ' ' + await r.text()); process.exit(1) }
  const wrong = await fetch('$base/execute', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer not-the-key' },
    body: JSON.stringify({ choices: [] }),
  })
  if (wrong.status !== 401) { console.error('wrong key: HTTP ' + wrong.status); process.exit(1) }
  console.log('ok   POST /execute without the key: 401; with a wrong key: 401')
" || fail "POST /execute without the key"

kill -TERM "$server_pid"
deadline=$((SECONDS + 5))
while kill -0 "$server_pid" 2>/dev/null; do
  ((SECONDS < deadline)) || fail "the server was still running 5 s after SIGTERM"
  sleep 0.1
done
exit_code=0
wait "$server_pid" || exit_code=$?
server_pid=""
((exit_code == 0)) || fail "the server exited $exit_code after SIGTERM"
ok "SIGTERM: the server exited 0 within 5 s"
grep -q '"msg":"closed"' "$scratch/server.log" || fail "no 'closed' line in the server's log"
ok "its log says it closed"

find "$app" -printf '%y %m %s %T@ %p\n' | sort >"$scratch/after.txt"
if ! diff -u "$scratch/before.txt" "$scratch/after.txt" >"$scratch/tree.diff"; then
  cat "$scratch/tree.diff" >&2
  fail "the server changed the tree"
fi
ok "no file created, changed or removed in the tree ($(wc -l <"$scratch/after.txt" | tr -d ' ') entries compared)"
[[ ! -e "$app/no-home" ]] || fail "HOME was created"

echo "PASS runtime stage: production install on Node $node_version, read-only tree, server run as $server_user"

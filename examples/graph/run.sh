#!/bin/sh
# A task graph made by a decision task: run from the repository root while `npm start` runs.
#   sh examples/graph/run.sh
# 1. creates a client for the decision task that may only create tasks in local/default and
#    expires in an hour (the worker gives tasks no credentials of its own);
# 2. creates the decision task, which runs examples/graph/decision.cjs with that client: it adds
#    3 parts (fan-out) and a join that depends on all of them (fan-in) to its task group;
# 3. follows the decision task's log, then watches the group until every task is resolved.
set -eu
cd "$(dirname "$0")/../.."
ty() { node --import tsx src/cli/main.ts "$@"; }

group=$(node -e "console.log(require('slugid').nice())")
client="examples/decision/$group"
expires=$(node -e "console.log(new Date(Date.now() + 3600e3).toJSON())")
token=$(ty api auth createClient "$client" --input "{
  \"expires\": \"$expires\",
  \"description\": \"decision task of examples/graph, group $group\",
  \"scopes\": [\"queue:create-task:lowest:local/default\", \"queue:scheduler-id:-\", \"queue:create-task:project:none\",
               \"queue:get-artifact:public/*\", \"queue:status:*\", \"queue:get-task:*\"]
}" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).accessToken))")
root_url=$(node -e "console.log(JSON.parse(require('fs').readFileSync(process.env.TASKYARD_DATA_DIR ? process.env.TASKYARD_DATA_DIR + '/credentials.json' : '.taskyard/credentials.json')).rootUrl)")

node -e '
const fs = require("fs");
const [group, client, token, modules] = process.argv.slice(1);
process.stdout.write(JSON.stringify({
  taskGroupId: group,
  metadata: { name: "decision", description: "creates a fan-out/fan-in graph (examples/graph)" },
  payload: {
    maxRunTime: 120,
    env: { TASK_GROUP_ID: group, TASKCLUSTER_CLIENT_ID: client, TASKCLUSTER_ACCESS_TOKEN: token, NODE_PATH: modules, WIDTH: "3" },
    mounts: [{ file: "decision.cjs", content: { raw: fs.readFileSync("examples/graph/decision.cjs", "utf8") } }],
    command: [[process.execPath, "decision.cjs"]],
  },
}));
' "$group" "$client" "$token" "$PWD/node_modules" > "/tmp/taskyard-decision-$group.json"

ty task create "/tmp/taskyard-decision-$group.json" --task-id "$group" --follow
rm -f "/tmp/taskyard-decision-$group.json"
echo "root URL: $root_url; group: $group"
ty group watch "$group"
ty group list "$group"

#!/bin/sh
# A task graph made by a decision task: run from the repository root while `npm start` runs.
#   sh examples/graph/run.sh
# 1. creates the decision task, which runs examples/graph/decision.cjs on the worker with the
#    taskcluster proxy (features.taskclusterProxy): it calls the queue as itself, with the task's
#    scopes only, and never holds credentials. It adds 3 parts (fan-out) and a join that depends
#    on all of them and reads their artifacts (fan-in) to its task group;
# 2. follows the decision task's log, then watches the group until every task is resolved.
set -eu
cd "$(dirname "$0")/../.."
ty() { node --import tsx src/cli/main.ts "$@"; }

group=$(node -e "console.log(require('slugid').nice())")
node -e '
const fs = require("fs");
const [group, modules] = process.argv.slice(1);
process.stdout.write(JSON.stringify({
  taskGroupId: group,
  metadata: { name: "decision", description: "creates a fan-out/fan-in graph (examples/graph)" },
  // What the decision task may do through the proxy: create tasks in local/default, and give
  // the join task what it needs to read the parts.
  scopes: ["queue:create-task:lowest:local/default", "queue:create-task:project:none", "queue:scheduler-id:-",
           "queue:get-artifact:public/part.txt", "queue:status:*"],
  payload: {
    maxRunTime: 120,
    features: { taskclusterProxy: true },
    env: { TASK_GROUP_ID: group, NODE_PATH: modules, WIDTH: "3" },
    mounts: [{ file: "decision.cjs", content: { raw: fs.readFileSync("examples/graph/decision.cjs", "utf8") } }],
    command: [[process.execPath, "decision.cjs"]],
  },
}));
' "$group" "$PWD/node_modules" > "/tmp/taskyard-decision-$group.json"

ty task create "/tmp/taskyard-decision-$group.json" --task-id "$group" --follow
rm -f "/tmp/taskyard-decision-$group.json"
echo "group: $group"
ty group watch "$group"
ty group list "$group"

// The decision task of examples/graph: creates a fan-out of `WIDTH` tasks and one fan-in task
// that depends on all of them, in the decision task's own group, through the queue API.
// It runs on the worker with features.taskclusterProxy (see docs/worker.md).
// The package is ESM; require() of it (Node 20.17+) gives its namespace, with the API under default.
const tcModule = require('taskcluster-client');
const taskcluster = tcModule.default ?? tcModule;

const WIDTH = Number(process.env.WIDTH || 3);
// The worker's taskcluster proxy signs each call with this task's scopes: no credentials here.
const queue = new taskcluster.Queue({ rootUrl: process.env.TASKCLUSTER_PROXY_URL });
const groupId = process.env.TASK_GROUP_ID;

function task(name, command, extra = {}) {
  return {
    taskGroupId: groupId,
    schedulerId: '-',
    taskQueueId: 'local/default',
    created: new Date().toJSON(),
    deadline: taskcluster.fromNowJSON('1 hour'),
    expires: taskcluster.fromNowJSON('7 days'),
    // A task created by the decision task depends on it, as upstream decision tasks do.
    dependencies: [process.env.TASK_ID],
    metadata: { name, description: `${name} (examples/graph)`, owner: 'examples@localhost', source: `${process.env.TASKCLUSTER_ROOT_URL}/examples/graph` },
    payload: { maxRunTime: 60, command, ...extra },
  };
}

async function main() {
  const parts = [];
  for (let i = 1; i <= WIDTH; i++) {
    const id = taskcluster.slugid();
    await queue.createTask(
      id,
      task(`part-${i}`, [['sh', '-c', `echo "part ${i} of ${WIDTH}" > part.txt; cat part.txt`]], {
        artifacts: [{ type: 'file', path: 'part.txt', name: 'public/part.txt' }],
      }),
    );
    console.log(`created part-${i}: ${id}`);
    parts.push(id);
  }
  const join = taskcluster.slugid();
  const fanIn = task('join', [['sh', '-c', 'cat in/*.txt | tee all.txt']], {
    inputs: parts.map((id, i) => ({ from: id, artifact: 'public/part.txt', path: `in/${i + 1}.txt` })),
    artifacts: [{ type: 'file', path: 'all.txt', name: 'public/all.txt' }],
  });
  fanIn.dependencies = [process.env.TASK_ID, ...parts];
  // The worker reads inputs with the task's own credentials.
  fanIn.scopes = ['queue:get-artifact:public/part.txt', ...parts.map((id) => `queue:status:${id}`)];
  await queue.createTask(join, fanIn);
  console.log(`created join: ${join}`);
}

main().catch((err) => {
  console.error(`decision failed: ${err.message}`);
  process.exit(1);
});

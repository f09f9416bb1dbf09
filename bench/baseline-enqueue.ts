/** The stock way to bulk-enqueue a JSONL file: read lines, addBulk in chunks, no validation. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

const env = process.env;
const queue = new Queue('forbid', { connection: new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null }), prefix: env.QUEUE_PREFIX! });
let chunk: { name: string; data: unknown }[] = [];
let lines = 0;
for await (const line of createInterface({ input: createReadStream(env.INPUT_FILE!), crlfDelay: Infinity })) {
  if (line.trim() === '') continue;
  chunk.push({ name: 'ForbidLiveStream', data: JSON.parse(line) });
  lines++;
  if (chunk.length >= 1000) {
    await queue.addBulk(chunk);
    chunk = [];
  }
}
if (chunk.length > 0) await queue.addBulk(chunk);
process.stdout.write(`${JSON.stringify({ enqueued: lines })}\n`);
process.exit(0);

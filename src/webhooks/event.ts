import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { WEBHOOK_EVENTS, type WebhookEndpoint } from '../config/webhooks-file.ts';
import type { AuditRecord } from '../ledger/audit.ts';
import { isEvent } from '../ledger/audit-follow.ts';

/**
 * What a webhook delivers: an audit record (a job's outcome, a finished
 * batch) as the SSE route sends it, wrapped with its id, its type and the
 * account. This is a delivery job's data in Redis: it holds no secret; the
 * signature is made when it is sent.
 */
export const webhookPayloadSchema = z.object({
  id: z.string().regex(/^\d+-\d+$/),
  type: z.enum(WEBHOOK_EVENTS),
  account: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type WebhookPayload = z.output<typeof webhookPayloadSchema>;

/** The payload a record becomes for an endpoint, or none: acts are not delivered, nor events or operations it did not ask for. */
export function payloadOf(record: AuditRecord, endpoint: Pick<WebhookEndpoint, 'events' | 'operations'>, account: string): WebhookPayload | undefined {
  // The records GET /events pushes: outcomes and finished batches.
  if (!isEvent(record, {})) return undefined;
  const type = record.kind === 'outcome' ? 'outcome' : 'batch.done';
  if (!endpoint.events.includes(type)) return undefined;
  if (endpoint.operations && (record.operation === undefined || !endpoint.operations.includes(record.operation))) return undefined;
  // As GET /events sends it: the record without its kind (the type says it).
  const { kind: _kind, ...data } = record;
  return { id: record.id, type, account, data };
}

/** Names the fact, not the delivery: the same outcome of the same job, or the same batch's end, has the same key. */
export function idempotencyKey(payload: WebhookPayload): string {
  return payload.type === 'outcome' ? `${String(payload.data.jobId)}:${String(payload.data.outcome)}` : `batch:${String(payload.data.batch)}:done`;
}

/** `v1=` and the hex HMAC-SHA256 of `<timestamp>.<body>` under the endpoint's secret. */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The body and headers of one attempt, signed now (each retry carries a fresh timestamp). */
export function signedRequest(payload: WebhookPayload, secret: string, nowMs = Date.now()): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ id: payload.id, type: payload.type, account: payload.account, data: payload.data });
  const timestamp = Math.floor(nowMs / 1000);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'livequeue-id': payload.id,
      'idempotency-key': idempotencyKey(payload),
      'livequeue-timestamp': String(timestamp),
      'livequeue-signature': signatureOf(secret, timestamp, body),
    },
  };
}

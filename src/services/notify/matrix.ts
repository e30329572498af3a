/** Matrix client-server API: `m.room.message` events sent with an access token, over global fetch. */
import { PermanentSendError } from './email.ts';

export interface MatrixMessage {
  roomId: string;
  body: string;
  format?: string;
  formattedBody?: string;
  msgtype?: 'm.notice' | 'm.text' | 'm.emote';
}

export interface MatrixSender {
  /** `txnId` makes a retried send idempotent on the homeserver (same token, same id: one event). */
  sendMessage(msg: MatrixMessage, txnId: string): Promise<void>;
}

/** The homeserver refused: the bot is not in the room (it must be invited first). */
export class MatrixForbiddenError extends PermanentSendError {
  override name = 'MatrixForbiddenError';
}

export function createMatrixSender(opts: { baseUrl: string; accessToken: string }): MatrixSender {
  const base = opts.baseUrl.replace(/\/+$/, '');
  return {
    async sendMessage(msg, txnId) {
      const url =
        `${base}/_matrix/client/v3/rooms/${encodeURIComponent(msg.roomId)}` +
        `/send/m.room.message/${encodeURIComponent(txnId)}`;
      const res = await fetch(url, {
        method: 'PUT',
        headers: { authorization: `Bearer ${opts.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          msgtype: msg.msgtype ?? 'm.notice',
          body: msg.body,
          ...(msg.format ? { format: msg.format } : {}),
          ...(msg.formattedBody !== undefined ? { formatted_body: msg.formattedBody } : {}),
        }),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.ok) return;
      const body = (await res.json().catch(() => ({}))) as { errcode?: string; error?: string };
      const message = `Matrix answered HTTP ${res.status} (${body.errcode ?? 'no errcode'}: ${body.error ?? ''}) for room ${msg.roomId}`;
      if (body.errcode === 'M_FORBIDDEN') throw new MatrixForbiddenError(message);
      if (res.status === 429 || res.status >= 500) throw new Error(message);
      throw new PermanentSendError(message);
    },
  };
}

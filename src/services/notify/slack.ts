/** Slack's Web API `chat.postMessage` with a bot token, over global fetch. */
import { PermanentSendError } from './email.ts';

export interface SlackMessage {
  channelId: string;
  text: string;
  blocks?: unknown[];
  attachments?: unknown[];
  unfurlLinks?: boolean;
  unfurlMedia?: boolean;
}

export interface SlackSender {
  postMessage(msg: SlackMessage): Promise<void>;
}

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

/** Slack errors that may pass on retry; any other `ok: false` is final. */
const TRANSIENT_SLACK_ERRORS = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

export function createSlackSender(opts: { token: string; apiUrl?: string }): SlackSender {
  const base = (opts.apiUrl ?? DEFAULT_SLACK_API_URL).replace(/\/*$/, '/');
  return {
    async postMessage(msg) {
      const res = await fetch(`${base}chat.postMessage`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${opts.token}`,
          'content-type': 'application/json; charset=utf-8',
        },
        body: JSON.stringify({
          channel: msg.channelId,
          text: msg.text,
          ...(msg.blocks ? { blocks: msg.blocks } : {}),
          ...(msg.attachments ? { attachments: msg.attachments } : {}),
          unfurl_links: msg.unfurlLinks ?? false,
          unfurl_media: msg.unfurlMedia ?? false,
        }),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status === 429 || res.status >= 500) {
        throw new Error(`Slack answered HTTP ${res.status} to chat.postMessage`);
      }
      const body = (await res.json().catch(() => ({}))) as { ok?: boolean; error?: string };
      if (!body.ok) {
        const error = body.error ?? `HTTP ${res.status}`;
        const message = `Slack refused the message to ${msg.channelId}: ${error}`;
        if (TRANSIENT_SLACK_ERRORS.has(error)) throw new Error(message);
        throw new PermanentSendError(message);
      }
    },
  };
}

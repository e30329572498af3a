/** Email over SMTP (nodemailer): a text part (the markdown as written) and an HTML part. */
import nodemailer from 'nodemailer';
import type { Config } from '../../platform/config.ts';
import { escapeHtml, markdownToHtml } from './markdown.ts';

export interface EmailMessage {
  address: string;
  subject: string;
  /** Markdown. */
  content: string;
  link?: { text: string; href: string };
  replyTo?: string;
  template?: 'simple' | 'fullscreen';
}

export interface OutgoingMail {
  from: string;
  to: string;
  replyTo?: string;
  subject: string;
  text: string;
  html: string;
}

/** Where mails go: SMTP in production; tests may inject another. */
export interface EmailTransport {
  send(mail: OutgoingMail): Promise<void>;
  close(): Promise<void>;
}

/** An SMTP failure the server will not accept on retry (5xx): the mail is given up. */
export class PermanentSendError extends Error {
  override name = 'PermanentSendError';
}

export const DEFAULT_SENDER = 'Taskyard <taskyard@localhost>';

export function smtpConfigured(config: Config): boolean {
  return Boolean(config.smtpUrl || config.smtpHost);
}

export function createSmtpTransport(config: Config): EmailTransport {
  const transporter = config.smtpUrl
    ? nodemailer.createTransport(config.smtpUrl)
    : nodemailer.createTransport({
        host: config.smtpHost,
        port: config.smtpPort ?? (config.smtpSecure ? 465 : 587),
        secure: config.smtpSecure ?? false,
        ...(config.smtpUser ? { auth: { user: config.smtpUser, pass: config.smtpPassword ?? '' } } : {}),
      });
  return {
    async send(mail) {
      try {
        await transporter.sendMail(mail);
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        if (code !== undefined && code >= 500 && code < 600) {
          throw new PermanentSendError(`the SMTP server refused the mail: ${(err as Error).message}`, {
            cause: err,
          });
        }
        throw err;
      }
    },
    async close() {
      transporter.close();
    },
  };
}

/** The mail for a message: text as written plus its link, HTML from the markdown in a layout. */
export function renderMail(msg: EmailMessage, from: string): OutgoingMail {
  const linkText = msg.link ? `\n\n${msg.link.text}: ${msg.link.href}\n` : '\n';
  const body = markdownToHtml(msg.content);
  const button = msg.link
    ? `<p style="margin:24px 0"><a href="${escapeHtml(msg.link.href)}" style="background:#1f6feb;color:#fff;padding:10px 16px;border-radius:4px;text-decoration:none">${escapeHtml(msg.link.text)}</a></p>`
    : '';
  const width = msg.template === 'fullscreen' ? '100%' : '640px';
  const html =
    '<!DOCTYPE html><html><head><meta charset="utf-8">' +
    `<title>${escapeHtml(msg.subject)}</title></head>` +
    '<body style="font-family:sans-serif;margin:0;padding:16px;background:#f6f8fa">' +
    `<div class="content" style="max-width:${width};margin:0 auto;background:#fff;padding:24px">` +
    `${body}${button}</div></body></html>`;
  return {
    from,
    to: msg.address,
    ...(msg.replyTo ? { replyTo: msg.replyTo } : {}),
    subject: msg.subject,
    text: msg.content.trimEnd() + linkText,
    html,
  };
}

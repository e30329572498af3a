import { FormatRegistry } from '@sinclair/typebox';

/**
 * TypeBox's compiler rejects any value whose schema names a format it has
 * no checker for. Message schemas use these formats, and a process that
 * only publishes (a background job) may never load the API layer that also
 * registers them, so we register them here too, keeping any existing one.
 */
export function ensureFormats(): void {
  if (!FormatRegistry.Has('date-time')) {
    const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
    FormatRegistry.Set('date-time', (v) => isoDateTime.test(v) && !Number.isNaN(Date.parse(v)));
  }
  if (!FormatRegistry.Has('uri')) {
    FormatRegistry.Set('uri', (v) => URL.canParse(v));
  }
  if (!FormatRegistry.Has('email')) {
    FormatRegistry.Set('email', (v) => /^[^\s@]+@[^\s@]+$/.test(v));
  }
}

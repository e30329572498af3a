import type { Service, ServiceOptions } from '../service.ts';
import { secretEndpoints } from './api.ts';
import { SecretsKeyring } from './keyring.ts';
import { reportKeys, startSecretsMaintenance } from './maintenance.ts';

export { expireSecrets, reencryptSecrets, secretsMaintenancePass } from './maintenance.ts';

/**
 * The secrets service: named JSON values readable with `secrets:get:<name>`, encrypted at rest with
 * `secretsKey`, gone once they expire. Refuses to start (ConfigError) without `secretsKey`.
 */
export function createSecretsService(opts: ServiceOptions): Service {
  const keyring = new SecretsKeyring(opts.config.secretsKey, opts.config.secretsKeyOld);
  const context = { database: opts.database, keyring, logger: opts.logger, now: opts.now };
  let stopMaintenance: (() => Promise<void>) | undefined;
  return {
    api: {
      serviceName: 'secrets',
      title: 'Secrets Service',
      description:
        'A key/value store for small secret JSON values. Reading a secret takes the scope ' +
        '`secrets:get:<name>`, so a value is secret from whoever lacks it; tasks get such scopes ' +
        'through their temporary credentials.\n\n' +
        'Every secret has an expiry; once it has passed the secret can no longer be read, and it is ' +
        'deleted soon after. Values are stored encrypted.',
      endpoints: secretEndpoints(context),
    },
    async start() {
      await reportKeys(opts.database, keyring, opts.logger);
      if (opts.backgroundLoops) {
        stopMaintenance = startSecretsMaintenance(opts.database, keyring, opts.logger, opts.now);
      }
    },
    async stop() {
      await stopMaintenance?.();
      stopMaintenance = undefined;
    },
  };
}

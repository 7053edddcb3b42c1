// Prints a bearer token signed with the local stack's key (the running `npm start`'s, unless
// INFRAFED_CONFIG names another config): npm run token -- [org] [role] [subject]
// or a token of the local identity provider stand-in (`campus`), which signs in through the gateway:
// npm run token -- --provider <sub> ['{"eduperson_entitlement": ["urn:mace:example.org:group:hpc-users"]}']
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { signProviderToken } from '../platforms/identityProvider.ts';
import { signLocalToken } from '../runtime/auth.ts';
import { loadSystemConfig } from '../runtime/config.ts';

const args = process.argv.slice(2);
if (args[0] === '--provider') {
  const provider = JSON.parse(readFileSync(fileURLToPath(new URL('../.local/system/identity-provider.json', import.meta.url)), 'utf8'));
  const [, sub = 'new-user', claims = '{}'] = args;
  process.stdout.write(`${await signProviderToken(provider, sub, JSON.parse(claims) as Record<string, unknown>)}\n`);
} else {
  const [organization = 'demo', orgRole = 'owner', subject = `${organization}-admin`] = args;
  const config = loadSystemConfig({
    INFRAFED_CONFIG: fileURLToPath(new URL('../.local/system/config.json', import.meta.url)),
    ...process.env,
  });
  process.stdout.write(`${await signLocalToken(config.auth, { subject, organization, orgRole: orgRole as 'owner' })}\n`);
}

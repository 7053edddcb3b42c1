// Prints a bearer token signed with the local stack's key (the running `npm start`'s, unless
// INFRAFED_CONFIG names another config): npm run token -- [org] [role] [subject]
import { fileURLToPath } from 'node:url';
import { signLocalToken } from '../runtime/auth.ts';
import { loadSystemConfig } from '../runtime/config.ts';

const [organization = 'demo', orgRole = 'owner', subject = `${organization}-admin`] = process.argv.slice(2);
const config = loadSystemConfig({
  INFRAFED_CONFIG: fileURLToPath(new URL('../.local/system/config.json', import.meta.url)),
  ...process.env,
});
process.stdout.write(`${await signLocalToken(config.auth, { subject, organization, orgRole: orgRole as 'owner' })}\n`);

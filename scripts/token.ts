// Prints a bearer token signed with the local stack's key: node scripts/token.ts [org] [role] [subject]
import { signLocalToken } from '../runtime/auth.ts';
import { loadSystemConfig } from '../runtime/config.ts';

const [organization = 'demo', orgRole = 'owner', subject = `${organization}-admin`] = process.argv.slice(2);
const config = loadSystemConfig();
process.stdout.write(`${await signLocalToken(config.auth, { subject, organization, orgRole: orgRole as 'owner' })}\n`);

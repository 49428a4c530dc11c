// Prints fresh service identity keys as environment lines:
//   npm run service-keys >> infra/compose/.env
// <SERVICE>_SERVICE_IDENTITY_SECRET for each service (its private key: give each service only its
// own), and SERVICE_IDENTITIES (every public key: give it to every service).
import { generateServiceIdentitySecret, serviceIdentityPublicKey } from "@boxoffice/bus";

const SERVICES = ["users", "events", "inventory", "payments", "gateway"];

const secrets = Object.fromEntries(SERVICES.map((service) => [service, generateServiceIdentitySecret()]));
for (const service of SERVICES) process.stdout.write(`${service.toUpperCase()}_SERVICE_IDENTITY_SECRET=${secrets[service]}\n`);
process.stdout.write(`SERVICE_IDENTITIES=${SERVICES.map((service) => `${service}=${serviceIdentityPublicKey(secrets[service])}`).join(",")}\n`);

// The users service's error codes (from the shared map in @boxoffice/contracts) and their constructors.
import { RpcError } from "@boxoffice/bus";
import { ErrorCodes } from "@boxoffice/contracts";

export const UsersErrorCodes = {
  EMAIL_TAKEN: ErrorCodes.EMAIL_TAKEN,
  INVALID_CREDENTIALS: ErrorCodes.INVALID_CREDENTIALS,
  RATE_LIMITED: ErrorCodes.RATE_LIMITED,
  NOT_FOUND: ErrorCodes.NOT_FOUND,
  UNAUTHENTICATED: ErrorCodes.UNAUTHENTICATED,
  FORBIDDEN: ErrorCodes.FORBIDDEN,
} as const;

export const emailTaken = () => new RpcError(UsersErrorCodes.EMAIL_TAKEN, "an account with this email exists");
// One message for "no such account" and "wrong password", so the answer does not tell which.
export const invalidCredentials = () => new RpcError(UsersErrorCodes.INVALID_CREDENTIALS, "wrong email or password");
export const rateLimited = (retryAfterSeconds: number) =>
  new RpcError(UsersErrorCodes.RATE_LIMITED, `too many failed sign-in attempts; try again in ${retryAfterSeconds} s`, {
    retryable: true,
    details: { retryAfterSeconds },
  });
export const userNotFound = () => new RpcError(UsersErrorCodes.NOT_FOUND, "no such user");
export const refreshRefused = (reason: string) => new RpcError(UsersErrorCodes.UNAUTHENTICATED, `refresh refused: ${reason}; sign in again`);
export const audienceRefused = (audience: string) =>
  new RpcError(UsersErrorCodes.FORBIDDEN, `identity tokens cannot be issued for the audience ${JSON.stringify(audience)} (it is the refresh tokens' own)`, { details: { audience } });

/** An error to show as one line, without a stack: the user can act on the message. */
export class UserError extends Error {
  readonly userFacing = true;
}

package runtime

// SupportPackageIsVersion1 is referenced by generated code, so that code
// generated for a newer runtime fails to compile against this one, at the
// line that says why, instead of misbehaving: a generator that needs a
// runtime feature raises the number, and the runtime that has it declares
// the new constant beside the old ones.
const SupportPackageIsVersion1 = true

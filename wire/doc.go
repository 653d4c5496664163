// Package wire is Arbiter's JSON wire format, in one place: the decoders
// of the HTTP requests (POST /v1/decide into an engine.Request, POST
// /v1/outcomes into Outcomes), with their bounds and their errors; the
// error codes of the HTTP API and the error body; the encoder of the
// decision response; and the events, one type each (decision, outcome,
// rules reloaded), with their encoders, parsers and subjects.
//
// It is used by the HTTP adapter, the publisher, `arbiter decide`, the rule
// tests and the readers of the event stream, so that what a request,
// a decision and an event look like in JSON is defined once. It does no
// I/O; the engine it feeds knows nothing of JSON.
package wire

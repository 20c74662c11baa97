package sluice

import (
	"errors"
	"fmt"
)

// Error is an expected failure of one message, returned by a filter or transform function.
// Make one with [Retry] or [Reject].
type Error struct {
	// Transient is true for a retry: the host retries the message with backoff up to the
	// stage's bound, then dead-letters it. False is a reject: the host applies the stage's
	// policy for rejected messages (dead letter by default) without retrying.
	Transient bool
	// Reason says why, for the dead-letter record and the logs.
	Reason string
}

// Retry is a transient failure: trying the same message again later may succeed.
func Retry(reason string) error { return &Error{Transient: true, Reason: reason} }

// Retryf is [Retry] with a formatted reason.
func Retryf(format string, args ...any) error { return Retry(fmt.Sprintf(format, args...)) }

// Reject is a permanent failure: the message can never be handled by this plugin.
func Reject(reason string) error { return &Error{Reason: reason} }

// Rejectf is [Reject] with a formatted reason.
func Rejectf(format string, args ...any) error { return Reject(fmt.Sprintf(format, args...)) }

func (e *Error) Error() string {
	if e.Transient {
		return "retry: " + e.Reason
	}
	return "reject: " + e.Reason
}

// asError classifies what a plugin function returned: a *Error (possibly wrapped) as it
// is, any other error as a reject with the error's text.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Reason: err.Error()}
}

// Stratus's own, API-compatible definition of the Lambda Java log levels (most to least detailed).
package com.amazonaws.services.lambda.runtime.logging;

public enum LogLevel {
    UNDEFINED, TRACE, DEBUG, INFO, WARN, ERROR, FATAL;

    /** The level named by `name` (any case), or `fallback` when it names none. */
    public static LogLevel fromString(String name, LogLevel fallback) {
        if (name == null) return fallback;
        try {
            return valueOf(name.trim().toUpperCase());
        } catch (IllegalArgumentException unknown) {
            return fallback;
        }
    }
}

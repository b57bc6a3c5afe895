// Stratus's own, API-compatible definition of the Lambda Java Cognito identity interface.
package com.amazonaws.services.lambda.runtime;

public interface CognitoIdentity {
    String getIdentityId();

    String getIdentityPoolId();
}

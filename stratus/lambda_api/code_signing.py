"""Code signing, as far as Stratus has it: no code signing configuration can exist here (AWS
Signer has no counterpart), so every function's is none, and a configuration named at
CreateFunction cannot be found. Tools that read a function's setting (Terraform's
aws_lambda_function, in the regions where AWS offers Signer) get Lambda's answer for a function
without one."""

from __future__ import annotations

from typing import Any

from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.functions import function_ref


async def get_function_code_signing_config(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    name, _ = function_ref(context, params)
    context.registry.get(name)  # ResourceNotFoundException for a function that does not exist
    return {"CodeSigningConfigArn": "", "FunctionName": name}

import os
import time

CLIENT_FIELDS = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")


def handler(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    second = context.get_remaining_time_in_millis()
    cc = context.client_context
    client_context = None
    if cc is not None:
        client = None
        if cc.client is not None:
            client = {k: getattr(cc.client, k) for k in CLIENT_FIELDS}
        client_context = {"client": client, "custom": cc.custom, "env": cc.env}
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "memory_limit_in_mb_type": type(context.memory_limit_in_mb).__name__,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": {
            "cognito_identity_id": context.identity.cognito_identity_id,
            "cognito_identity_pool_id": context.identity.cognito_identity_pool_id,
        },
        "client_context": client_context,
        "tenant_id": context.tenant_id,
        "remaining": [first, second],
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "context_type": type(context).__name__,
    }

"""What every API front-end shares: the context its handlers get, and the one error mapper
that turns errors into aiohttp answers. Below the front-ends (services, lambda_api), above
what they use."""

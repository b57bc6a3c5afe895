"""lambda_api"""

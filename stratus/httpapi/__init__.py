"""httpapi"""

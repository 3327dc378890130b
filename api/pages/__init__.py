"""Pages served to people rather than programs: plain HTML forms, no script.

The links in e-mails open these pages. A GET only shows a form (mail scanners fetch links
before people do); the POST completes the action through the same command as the JSON API.
"""

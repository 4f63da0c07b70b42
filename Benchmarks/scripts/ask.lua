-- wrk script: POST /v1/ask with a JSON question.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"question":"How many vacation days do employees receive?"}'

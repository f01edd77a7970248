print("mq-worker")

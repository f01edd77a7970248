print("mq")
